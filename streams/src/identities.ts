import { agentbusRegistry, dlqSubject, StreamNames, type MessageTypeOf, type AgentbusRegistry, type StreamName } from '@agentbus/contracts';
import { inboxPrefixFor, LEASE_BUCKET, LEDGER_BUCKET, WATCHDOG_BUCKET, type PermissionNeed } from '@agentbus/bus';
import { FOLLOWUPS_BUCKET, HEALTH_EVIDENCE_BUCKET } from '@agentbus/health';
import { DEFAULT_STATE_BUCKET } from '@agentbus/state';
import { agentbusConsumers, type ConsumerDefinition } from './definitions.ts';

/**
 * Who may do what on the bus, as data beside the topology: each agentbus service's identity (the
 * message types it may publish, the streams it reads, the buckets it uses), the operator's (the
 * CLI) and the admin's (the only one that may create or change streams). permissionsFor() turns an
 * identity into nats-server permissions; the consumers each service runs come from the topology.
 */

type MessageType = MessageTypeOf<AgentbusRegistry>;
export type BucketAccess = 'read' | 'write';

export interface ServiceIdentity {
  service: string;
  /** The types it may publish; a service whose consumers take tasks also publishes task.* (its lifecycle) on its own. */
  publishes: MessageType[];
  /** Streams it reads by sequence or with ephemeral consumers (never another service's durables). */
  reads: StreamName[];
  /** Streams it may delete single messages from (cancelled follow-up timers). */
  deletesFrom: StreamName[];
  buckets: Partial<Record<string, BucketAccess>>;
  /** It reads the state of every declared consumer (the bus watchdog). */
  watchesConsumers?: boolean;
}

/** What every service uses: the idempotency ledger, and the watchdog's bucket (its heartbeats). */
const ledger = { [LEDGER_BUCKET]: 'write', [WATCHDOG_BUCKET]: 'write' } as const;

export const serviceIdentities: ServiceIdentity[] = [
  {
    service: 'deployer',
    publishes: ['deploy.planned', 'deploy.merged', 'deploy.completed', 'deploy.failed', 'escalation.raised'],
    reads: [],
    deletesFrom: [],
    buckets: { ...ledger, [LEASE_BUCKET]: 'write', [HEALTH_EVIDENCE_BUCKET]: 'write', [DEFAULT_STATE_BUCKET]: 'write' },
  },
  {
    service: 'health-monitor',
    publishes: [
      'health.passed', 'health.failed', 'health.inconclusive', 'health.recovered',
      'followup.scheduled', 'followup.passed', 'followup.failed', 'followup.inconclusive', 'followup.cancelled',
      'schedule.health-watch', 'schedule.integrity-sweep', 'schedule.followup', 'schedule.watchdog', 'watchdog.alert', 'watchdog.resolved', 'schedule.drift-scan', 'drift.detected', 'drift.resolved', 'escalation.raised', 'escalation.resolved',
    ],
    watchesConsumers: true,
    reads: [],
    deletesFrom: [StreamNames.schedule],
    buckets: { ...ledger, [LEASE_BUCKET]: 'write', [HEALTH_EVIDENCE_BUCKET]: 'write', [FOLLOWUPS_BUCKET]: 'write', [DEFAULT_STATE_BUCKET]: 'read' },
  },
  {
    service: 'rollback',
    publishes: ['rollback.started', 'rollback.reverted', 'rollback.completed', 'rollback.failed', 'rollback.skipped', 'followup.cancelled', 'escalation.raised'],
    reads: [],
    deletesFrom: [StreamNames.schedule],
    buckets: { ...ledger, [LEASE_BUCKET]: 'write', [HEALTH_EVIDENCE_BUCKET]: 'write', [FOLLOWUPS_BUCKET]: 'write', [DEFAULT_STATE_BUCKET]: 'write' },
  },
  {
    service: 'postmortem',
    publishes: ['postmortem.written', 'notifier.deliver', 'escalation.raised'],
    reads: [StreamNames.events, StreamNames.tasks, StreamNames.dlq],
    deletesFrom: [],
    buckets: { ...ledger, [DEFAULT_STATE_BUCKET]: 'write' },
  },
  {
    service: 'notifier',
    publishes: ['notification.delivered', 'notifier.deliver', 'escalation.raised', 'escalation.resolved'],
    reads: [StreamNames.events],
    deletesFrom: [],
    buckets: { ...ledger, [DEFAULT_STATE_BUCKET]: 'write' }, // pages/<service>: what it paged, to resolve it
  },
  {
    service: 'release',
    publishes: [
      'release.started', 'release.planned', 'release.step-started', 'release.step-passed', 'release.checked', 'release.abort-requested', 'release.completed',
      'deployer.deploy', 'rollback.rollback', 'escalation.raised',
    ],
    reads: [StreamNames.events],
    deletesFrom: [],
    buckets: { ...ledger, [LEASE_BUCKET]: 'write', [DEFAULT_STATE_BUCKET]: 'write' },
  },
];

/** The names of the identities that are not services. */
export const OPERATOR_IDENTITY = 'operator';
export const ADMIN_IDENTITY = 'admin';
/** The connection names (and so inbox prefixes) of the CLI under each of its identities. */
export const cliConnectionNames = { [OPERATOR_IDENTITY]: 'agentbus-cli', [ADMIN_IDENTITY]: 'agentbus-admin' } as const;

export interface SubjectPermissions {
  allow: string[];
  deny: string[];
}

/** One identity's nats-server permissions (its `permissions` block). */
export interface Permissions {
  publish: SubjectPermissions;
  subscribe: SubjectPermissions;
}

const kvStream = (bucket: string) => `KV_${bucket}`;

/** The API subjects of reading `stream` with ephemeral consumers and by sequence (StreamReader, KV reads). */
function readSubjects(stream: string): string[] {
  return [
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.API.CONSUMER.CREATE.${stream}`, // an ephemeral consumer (the server refuses a durable name here)
    `$JS.API.CONSUMER.CREATE.${stream}.*`,
    `$JS.API.CONSUMER.CREATE.${stream}.*.>`,
    `$JS.API.CONSUMER.INFO.${stream}.*`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.*`,
    `$JS.API.CONSUMER.DELETE.${stream}.*`,
    `$JS.FC.${stream}.>`,
  ];
}

function bucketSubjects(bucket: string, access: BucketAccess): string[] {
  return [...readSubjects(kvStream(bucket)), ...(access === 'write' ? [`$KV.${bucket}.>`] : [])];
}

/**
 * Durables are created by the admin only and pulled by their own service only: the wildcards that
 * let an identity read a stream with ephemeral consumers must not reach them.
 */
function durableDenies(consumers: readonly ConsumerDefinition[], own: ReadonlySet<string>): string[] {
  return [
    '$JS.API.CONSUMER.DURABLE.CREATE.>',
    ...consumers.flatMap((c) => [
      `$JS.API.CONSUMER.CREATE.${c.stream}.${c.durable}`,
      `$JS.API.CONSUMER.CREATE.${c.stream}.${c.durable}.>`,
      `$JS.API.CONSUMER.DELETE.${c.stream}.${c.durable}`,
      ...(own.has(`${c.stream}/${c.durable}`) ? [] : [`$JS.API.CONSUMER.MSG.NEXT.${c.stream}.${c.durable}`, `$JS.ACK.${c.stream}.${c.durable}.>`]),
    ]),
  ];
}

/** A type's subject as a publish permission (its pattern, for types published on many subjects). */
function subjectOf(type: MessageType): string {
  return agentbusRegistry[type].subject;
}

function lifecycleTypes(consumers: readonly ConsumerDefinition[]): MessageType[] {
  return consumers.some((c) => c.stream === StreamNames.tasks) ? ['task.started', 'task.completed', 'task.failed'] : [];
}

const unique = (items: string[]) => [...new Set(items)];

export function serviceIdentity(service: string): ServiceIdentity {
  const identity = serviceIdentities.find((s) => s.service === service);
  if (!identity) throw new Error(`no identity is declared for service "${service}" in streams/src/identities.ts`);
  return identity;
}

/** The types `service` may publish: its declared ones and its tasks' lifecycle events. */
export function publishedTypes(service: string, consumers: readonly ConsumerDefinition[] = agentbusConsumers): MessageType[] {
  const own = consumers.filter((c) => c.service === service);
  return [...serviceIdentity(service).publishes, ...lifecycleTypes(own)];
}

/** A service's permissions: its types' subjects, its consumers, its reads and its buckets; nothing else. */
export function servicePermissions(service: string, consumers: readonly ConsumerDefinition[] = agentbusConsumers): Permissions {
  const identity = serviceIdentity(service);
  const own = consumers.filter((c) => c.service === service);
  const publish = [
    ...publishedTypes(service, consumers).map(subjectOf),
    '$JS.API.INFO',
    // Stream limits (the publisher checks a message's size against its stream's before sending).
    ...Object.values(StreamNames).map((stream) => `$JS.API.STREAM.INFO.${stream}`),
    ...own.flatMap((c) => [
      dlqSubject(c.stream, c.durable), // its dead letters
      `$JS.API.CONSUMER.INFO.${c.stream}.${c.durable}`,
      `$JS.API.CONSUMER.MSG.NEXT.${c.stream}.${c.durable}`,
      `$JS.ACK.${c.stream}.${c.durable}.>`,
      `$JS.API.STREAM.MSG.GET.${c.stream}`, // the message a MAX_DELIVERIES advisory names
    ]),
    ...identity.reads.flatMap(readSubjects),
    ...identity.deletesFrom.map((stream) => `$JS.API.STREAM.MSG.DELETE.${stream}`),
    ...(identity.watchesConsumers ? consumers.map((c) => `$JS.API.CONSUMER.INFO.${c.stream}.${c.durable}`) : []),
    ...Object.entries(identity.buckets).flatMap(([bucket, access]) => bucketSubjects(bucket, access!)),
  ];
  const subscribe = [
    `${inboxPrefixFor(service)}.>`,
    ...own.map((c) => `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${c.stream}.${c.durable}`),
  ];
  return {
    publish: { allow: unique(publish), deny: durableDenies(consumers, new Set(own.map((c) => `${c.stream}/${c.durable}`))) },
    subscribe: { allow: unique(subscribe), deny: [] },
  };
}

/**
 * The operator (the CLI): publish tasks, re-send what replay and redrive re-send (events too),
 * read every stream and bucket, redrive (delete the dead letter it re-sent), restore state. It may
 * not create, change or delete a stream or a durable consumer, nor pull or ack a service's
 * durable.
 */
export function operatorPermissions(consumers: readonly ConsumerDefinition[] = agentbusConsumers): Permissions {
  const streams = Object.values(StreamNames);
  const buckets = [LEDGER_BUCKET, LEASE_BUCKET, HEALTH_EVIDENCE_BUCKET, FOLLOWUPS_BUCKET, WATCHDOG_BUCKET, DEFAULT_STATE_BUCKET];
  const publish = [
    'agents.>',
    'events.>',
    '$JS.API.INFO',
    '$JS.API.STREAM.NAMES',
    '$JS.API.STREAM.LIST',
    '$JS.API.CONSUMER.NAMES.*',
    '$JS.API.CONSUMER.LIST.*',
    '$JS.API.CONSUMER.INFO.*.*',
    ...streams.flatMap(readSubjects),
    `$JS.API.STREAM.MSG.DELETE.${StreamNames.dlq}`,
    ...buckets.flatMap((bucket) => bucketSubjects(bucket, bucket === DEFAULT_STATE_BUCKET ? 'write' : 'read')),
  ];
  return {
    publish: { allow: unique(publish), deny: durableDenies(consumers, new Set()) },
    subscribe: { allow: [`${inboxPrefixFor(cliConnectionNames.operator)}.>`], deny: [] },
  };
}

/** The admin: provisioning (`agentbus streams apply`, `agentbus up`); everything. Keep its key off the hosts that run services. */
export function adminPermissions(): Permissions {
  return { publish: { allow: ['>'], deny: [] }, subscribe: { allow: ['>'], deny: [] } };
}

/** Every identity and its permissions: the services', the operator's and the admin's. */
export function agentbusIdentities(consumers: readonly ConsumerDefinition[] = agentbusConsumers): Array<{ name: string; permissions: Permissions }> {
  return [
    ...serviceIdentities.map((s) => ({ name: s.service, permissions: servicePermissions(s.service, consumers) })),
    { name: OPERATOR_IDENTITY, permissions: operatorPermissions(consumers) },
    { name: ADMIN_IDENTITY, permissions: adminPermissions() },
  ];
}

/** A concrete subject for a pattern: what a probe publishes to stand for it. */
function probeSubject(pattern: string): string {
  return pattern.replace(/\.>$/, '.agentbus-preflight').replace(/(^|\.)\*(?=\.|$)/g, '$1agentbus-preflight');
}

/**
 * What `service` must be able to do, checked at its start (a service that lacks one is not ready
 * and says which): its consumers (info, pull, ack, advisories), its types' subjects, its dead
 * letters, its buckets and the streams it reads.
 */
export function permissionNeeds(service: string, consumers: readonly ConsumerDefinition[] = agentbusConsumers): PermissionNeed[] {
  const identity = serviceIdentity(service);
  const own = consumers.filter((c) => c.service === service);
  return [
    { kind: 'subscribe', subject: `${inboxPrefixFor(service)}.agentbus-preflight`, why: 'replies (every request and pull answers on its inbox)' },
    ...own.flatMap((c): PermissionNeed[] => [
      { kind: 'request', subject: `$JS.API.CONSUMER.INFO.${c.stream}.${c.durable}`, why: `consumer ${c.stream}/${c.durable}` },
      { kind: 'publish', subject: `$JS.ACK.${c.stream}.${c.durable}.agentbus-preflight`, why: `acknowledging ${c.stream}/${c.durable}'s messages` },
      { kind: 'subscribe', subject: `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${c.stream}.${c.durable}`, why: `dead-lettering ${c.durable}'s messages whose worker died` },
      { kind: 'publish', subject: dlqSubject(c.stream, c.durable), why: `dead letters of ${c.durable}` },
    ]),
    ...publishedTypes(service, consumers).map((type): PermissionNeed => ({ kind: 'publish', subject: probeSubject(subjectOf(type)), why: `publishing ${type}` })),
    ...identity.reads.map((stream): PermissionNeed => ({ kind: 'request', subject: `$JS.API.STREAM.INFO.${stream}`, why: `reading ${stream}` })),
    ...Object.entries(identity.buckets).flatMap(([bucket, access]): PermissionNeed[] => [
      { kind: 'request', subject: `$JS.API.STREAM.INFO.${kvStream(bucket)}`, why: `bucket ${bucket}` },
      ...(access === 'write' ? [{ kind: 'publish' as const, subject: `$KV.${bucket}.agentbus-preflight`, why: `writing bucket ${bucket}` }] : []),
    ]),
  ];
}

function list(subjects: string[]): string {
  return `[${subjects.map((s) => JSON.stringify(s)).join(', ')}]`;
}

/**
 * The nats-server `authorization` block for these users (public nkeys only; the seeds never leave
 * the files `agentbus auth init` writes), one user per identity.
 */
export function authorizationConfig(users: Array<{ name: string; nkey: string; permissions: Permissions }>): string {
  const lines = ['# Written by `agentbus auth init` from the agentbus topology: one user per identity, public nkeys only.', '# Regenerate it (the keys are kept) after an upgrade of agentbus; include it from the server config.', 'authorization {', '  users: ['];
  for (const user of users) {
    const { publish, subscribe } = user.permissions;
    lines.push(`    # ${user.name}`);
    lines.push(`    { nkey: ${user.nkey}, permissions: {`);
    lines.push(`      publish: { allow: ${list(publish.allow)}${publish.deny.length ? `, deny: ${list(publish.deny)}` : ''} }`);
    lines.push(`      subscribe: { allow: ${list(subscribe.allow)}${subscribe.deny.length ? `, deny: ${list(subscribe.deny)}` : ''} }`);
    lines.push('    } }');
  }
  lines.push('  ]', '}', '');
  return lines.join('\n');
}
