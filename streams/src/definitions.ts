import { StreamNames, StreamSubjects, type StreamName } from '@agentbus/contracts';
import { LEASE_BUCKET, LEDGER_BUCKET, UnhandledTypePolicies, WATCHDOG_BUCKET, type UnhandledTypePolicy } from '@agentbus/bus';
import { FOLLOWUPS_BUCKET, HEALTH_EVIDENCE_BUCKET } from '@agentbus/health';
import { stateBucketConfig } from '@agentbus/state';

/**
 * The topology of agentbus as data: streams, durable consumers and KV buckets. Applied by
 * `agentbus streams apply` (idempotent); services only bind to what is declared here.
 * Values are seed 002's: limits retention, 72 h, 5 GB, 1 MiB messages, file storage, discard
 * old, 2-minute duplicate window; consumers max_deliver 5, ack_wait 60 s.
 */

const HOUR_MS = 3_600_000;

export interface StreamDefinition {
  name: StreamName | string;
  description: string;
  subjects: string[];
  /** 0 = keep forever. */
  maxAgeMs: number;
  maxBytes: number;
  maxMsgSize: number;
  duplicateWindowMs: number;
  /**
   * What its consumers do with a known type none of their handlers takes, unless a consumer says
   * otherwise: `dead-letter` where each subject names who must handle it (tasks), `skip` (and
   * count) where every consumer reads everything and acts on some (events). @default 'dead-letter'
   */
  unhandledTypes?: UnhandledTypePolicy;
  /**
   * `timers`: a stream of durable timers (AGENT_SCHEDULE): work-queue retention (a timer is gone
   * once acknowledged), one message per subject, and a second publish on a subject that has one
   * refused (discard new per subject), so a timer is never started twice. Default `log`: limits
   * retention, discard old (seed 002).
   */
  layout?: 'log' | 'timers';
}

export interface ConsumerDefinition {
  stream: string;
  /** Durable name; also the `<consumer>` of its dead-letter subject `dlq.<stream>.<consumer>`. */
  durable: string;
  /** The service that runs this consumer. */
  service: string;
  description: string;
  /** One subject filter (nats-server 2.9 allows one per consumer). */
  filterSubject: string;
  /**
   * How long a delivery that is neither acknowledged nor kept alive (in-progress acks, sent by the
   * runner every third of the current wait) waits before it is delivered again. Without
   * `ackBackoffMs`, every delivery waits this long.
   */
  ackWaitMs: number;
  /**
   * The waits of successive deliveries instead (nats-server's consumer `backoff`, which 2.9.10
   * takes only with a `maxDeliver` above its length): a delivery lost in flight — sent by a node
   * that died before the client got it, with nobody to finish it — comes back after the first wait,
   * not after `ackWaitMs`. Not for timers (their `maxDeliver` is unlimited).
   */
  ackBackoffMs?: number[];
  maxDeliver: number;
  /** Cap on un-acked messages in flight; delivery pauses at the cap. */
  maxAckPending: number;
  /** Redelivery delays after handler errors (nak with delay), by attempt; the last repeats. */
  retryDelaysMs: number[];
  /** Overrides its stream's `unhandledTypes` (see unhandledTypePolicy). */
  unhandledTypes?: UnhandledTypePolicy;
}

export interface BucketDefinition {
  bucket: string;
  description: string;
  /** Values kept per key (1 for create-only keys). */
  history: number;
  /** 0 = keep forever. */
  maxAgeMs: number;
  maxValueSize: number;
}

export interface Topology {
  /** 1 on a single node, 3 on a cluster. */
  replicas: number;
  streams: StreamDefinition[];
  consumers: ConsumerDefinition[];
  buckets: BucketDefinition[];
}

const streamDefaults = {
  maxAgeMs: 72 * HOUR_MS,
  maxBytes: 5 * 1024 ** 3,
  maxMsgSize: 1024 * 1024,
  duplicateWindowMs: 2 * 60_000,
};

export const consumerDefaults = {
  ackWaitMs: 60_000,
  ackBackoffMs: [5_000, 15_000, 30_000, 60_000],
  maxDeliver: 5,
  maxAckPending: 1_000,
  retryDelaysMs: [1_000, 5_000, 15_000, 30_000],
};

export const agentbusStreams: StreamDefinition[] = [
  {
    name: StreamNames.tasks,
    description: 'Tasks for agents: agents.<agent>.tasks.<verb> and agents.<agent>.inbox',
    subjects: StreamSubjects.AGENT_TASKS,
    ...streamDefaults,
    // A task on agents.<agent>.tasks.* that the agent has no handler for was sent to the wrong place: dead-letter it.
    unhandledTypes: UnhandledTypePolicies.deadLetter,
  },
  {
    name: StreamNames.events,
    description: 'Facts that happened: events.<domain>.<what>; the flight recorder of every incident',
    subjects: StreamSubjects.AGENT_EVENTS,
    ...streamDefaults,
    // Consumers read all events (events.>) and act on a few types: skip the rest, counted in agentbus_messages_total.
    unhandledTypes: UnhandledTypePolicies.skip,
  },
  {
    name: StreamNames.dlq,
    description: 'Dead letters: dlq.<stream>.<consumer>, the original body with the failure in headers',
    subjects: StreamSubjects.AGENT_DLQ,
    ...streamDefaults,
    unhandledTypes: UnhandledTypePolicies.skip,
  },
  {
    name: StreamNames.schedule,
    description: 'Durable timers: schedule.<name>, one message each, redelivered by its consumer each time it is due',
    subjects: StreamSubjects.AGENT_SCHEDULE,
    ...streamDefaults,
    maxAgeMs: 0, // a timer lives until its consumer acknowledges it
    maxBytes: 256 * 1024 ** 2, // timers are small; the logs reserve the store's space
    layout: 'timers',
  },
];

function consumer(definition: Omit<ConsumerDefinition, keyof typeof consumerDefaults> & Partial<typeof consumerDefaults>): ConsumerDefinition {
  return { ...consumerDefaults, ...definition };
}

/** Each agentbus service's durable consumers. */
export const agentbusConsumers: ConsumerDefinition[] = [
  consumer({ stream: StreamNames.tasks, durable: 'deployer', service: 'deployer', description: 'deploy tasks', filterSubject: 'agents.deployer.tasks.>' }),
  consumer({ stream: StreamNames.events, durable: 'health-monitor', service: 'health-monitor', description: 'deployments to verify', filterSubject: 'events.deploy.>' }),
  // A timer is redelivered (nak with its interval) without end: no delivery limit. A prober that
  // dies lets it go to another health monitor after ackWaitMs.
  consumer({ stream: StreamNames.schedule, durable: 'health-watch', service: 'health-monitor', description: 'the between-deploy watch of every service (one prober at a time)', filterSubject: 'schedule.health-watch', ackWaitMs: 15_000, ackBackoffMs: undefined, maxDeliver: -1 }),
  // Each follow-up waits out its delay as a pending delivery (nak with the time left): room for
  // many more pending than deliveries in flight, and no delivery limit. A short ack wait: a
  // nats-server 2.9.10 killed (SIGKILL) about a second after a nak can restart without it (5 of 6
  // runs of the e2e restart test; none when killed 3 s after, or stopped with SIGTERM), and the
  // timer then comes back one ack wait after its delivery instead, to be naked again with the
  // time left. A follow-up being judged is kept alive by in-progress acks every third of it.
  // The integrity sweep: one timer, like the watch.
  consumer({ stream: StreamNames.schedule, durable: 'integrity-sweep', service: 'health-monitor', description: 'the periodic verification of every versioned document (chain-break escalations)', filterSubject: 'schedule.integrity-sweep', ackWaitMs: 15_000, ackBackoffMs: undefined, maxDeliver: -1 }),
  // The drift scan of the production clones (lockdown): one timer, like the watch.
  consumer({ stream: StreamNames.schedule, durable: 'drift-scan', service: 'health-monitor', description: 'the drift scan of every production clone (changes made outside agentbus)', filterSubject: 'schedule.drift-scan', ackWaitMs: 15_000, ackBackoffMs: undefined, maxDeliver: -1 }),
  // The bus watchdog: one timer, like the watch.
  consumer({ stream: StreamNames.schedule, durable: 'watchdog', service: 'health-monitor', description: 'the bus watchdog: heartbeats, stalled consumers, backlogs, redelivery storms, DLQ growth', filterSubject: 'schedule.watchdog', ackWaitMs: 15_000, ackBackoffMs: undefined, maxDeliver: -1 }),
  consumer({ stream: StreamNames.schedule, durable: 'followups', service: 'health-monitor', description: 'follow-up checks of deployments, each run once when due', filterSubject: 'schedule.followup.>', ackWaitMs: 5_000, ackBackoffMs: undefined, maxDeliver: -1, maxAckPending: 20_000 }),
  consumer({ stream: StreamNames.events, durable: 'rollback', service: 'rollback', description: 'failed health checks and failed deploy commands to act on', filterSubject: 'events.>' }),
  consumer({ stream: StreamNames.tasks, durable: 'rollback-tasks', service: 'rollback', description: 'rollbacks asked for by name (by a release)', filterSubject: 'agents.rollback.tasks.>' }),
  // A release runs for as long as its steps and guard windows take, kept alive by in-progress acks;
  // each restart of the release agent on the way (a deploy of agentbus itself) is a delivery, so
  // it has more of them than a task that ends in seconds.
  consumer({ stream: StreamNames.tasks, durable: 'release', service: 'release', description: 'staged releases to run', filterSubject: 'agents.release.tasks.start', maxDeliver: 20 }),
  // Aborts have a consumer of their own: every slot of the one above may hold a running release.
  consumer({ stream: StreamNames.tasks, durable: 'release-aborts', service: 'release', description: 'requests to stop a running release', filterSubject: 'agents.release.tasks.abort' }),
  consumer({ stream: StreamNames.events, durable: 'postmortem', service: 'postmortem', description: 'incident outcomes to write up', filterSubject: 'events.>' }),
  consumer({ stream: StreamNames.events, durable: 'notifier', service: 'notifier', description: 'events to page and chat about', filterSubject: 'events.>' }),
  consumer({ stream: StreamNames.tasks, durable: 'notifier-deliveries', service: 'notifier', description: 'outgoing webhook deliveries (retried through the bus)', filterSubject: 'agents.notifier.tasks.>' }),
];

/**
 * A consumer of durable timers always has its timers pending (each waits out its delay as an
 * un-acknowledged delivery), so "caught up" and "stalled" mean something else for it.
 */
export function isTimerConsumer(consumer: ConsumerDefinition): boolean {
  return agentbusStreams.find((stream) => stream.name === consumer.stream)?.layout === 'timers';
}

export const agentbusBuckets: BucketDefinition[] = [
  {
    bucket: LEDGER_BUCKET,
    description: 'Idempotency ledger: done.<consumer>.<message id> and step.<consumer>.<message id>.<step>',
    history: 1,
    maxAgeMs: 7 * 24 * HOUR_MS, // longer than the streams keep messages, so a replay always finds its record
    maxValueSize: 64 * 1024,
  },
  {
    bucket: HEALTH_EVIDENCE_BUCKET,
    description: 'What each service\'s health was last seen to be: evidence.<service>.<kind> (watch, verdict, rollback, deploy-probe) and outage.<service>',
    history: 1,
    maxAgeMs: 7 * 24 * HOUR_MS,
    maxValueSize: 256 * 1024,
  },
  {
    bucket: FOLLOWUPS_BUCKET,
    description: 'Follow-up checks, pending and done: followup.<service>.<deployment>.<n> (agentbus followups list)',
    history: 1,
    maxAgeMs: 8 * 24 * HOUR_MS, // the last follow-up is at most 7 days after its deploy
    maxValueSize: 16 * 1024,
  },
  {
    bucket: WATCHDOG_BUCKET,
    description: 'Heartbeats of every service process (hb.<service>.<instance>) and the watchdog\'s open alerts (alert.<id>) and last look (seen.dlq)',
    history: 1,
    maxAgeMs: 7 * 24 * HOUR_MS,
    maxValueSize: 16 * 1024,
  },
  {
    bucket: LEASE_BUCKET,
    description: 'Per-service leases from create-only keys: lease.<service>.<epoch>, release.<service>.<epoch>',
    history: 1,
    maxAgeMs: 7 * 24 * HOUR_MS,
    maxValueSize: 4 * 1024,
  },
];

// Versioned state (release manifests, post-mortems): kept forever, create-only keys.
agentbusBuckets.push(stateBucketConfig());

export interface TopologyOptions {
  replicas: number;
  /** Added to (or replacing, by name) the built-in definitions. */
  streams?: StreamDefinition[];
  consumers?: ConsumerDefinition[];
  buckets?: BucketDefinition[];
}

function mergeBy<T>(base: T[], extra: T[] | undefined, key: (item: T) => string): T[] {
  const map = new Map(base.map((item) => [key(item), item]));
  for (const item of extra ?? []) map.set(key(item), item);
  return [...map.values()];
}

export function agentbusTopology(options: TopologyOptions): Topology {
  return {
    replicas: options.replicas,
    streams: mergeBy(agentbusStreams, options.streams, (s) => s.name),
    consumers: mergeBy(agentbusConsumers, options.consumers, (c) => `${c.stream}/${c.durable}`),
    buckets: mergeBy(agentbusBuckets, options.buckets, (b) => b.bucket),
  };
}

/**
 * What `consumer` does with a known type none of its handlers takes: its own `unhandledTypes`,
 * else its stream's (looked up in `streams`), else `dead-letter` (nothing is dropped unseen).
 */
export function unhandledTypePolicy(consumer: ConsumerDefinition, streams: readonly StreamDefinition[] = agentbusStreams): UnhandledTypePolicy {
  return consumer.unhandledTypes ?? streams.find((stream) => stream.name === consumer.stream)?.unhandledTypes ?? UnhandledTypePolicies.deadLetter;
}
