import { nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  jetstreamManager,
  ReplayPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { AgentbusError, describeError } from '@agentbus/contracts';
import { isConsumerNotFound, isStreamNotFound } from '@agentbus/bus';
import type { BucketDefinition, ConsumerDefinition, StreamDefinition, Topology } from './definitions.ts';

export const StreamsErrorCodes = {
  /** The server has no JetStream (or, in a cluster, no meta leader yet). */
  jetstreamUnavailable: 'jetstream-unavailable',
} as const;

declare module '@agentbus/contracts' {
  interface AgentbusErrorCodeMaps {
    streams: typeof StreamsErrorCodes;
  }
}

export const ChangeActions = { create: 'create', update: 'update', unchanged: 'unchanged', conflict: 'conflict' } as const;
export type ChangeAction = (typeof ChangeActions)[keyof typeof ChangeActions];

export interface Change {
  kind: 'stream' | 'consumer' | 'bucket';
  name: string;
  action: ChangeAction;
  /** Fields that differ: `field: current → wanted`. */
  fields: string[];
  /** Why a conflict cannot be applied, and what to do. */
  detail?: string;
}

export interface ApplyReport {
  dryRun: boolean;
  replicas: number;
  changes: Change[];
  /** True when something was (or, in a dry run, would be) created or updated. */
  changed: boolean;
  conflicts: number;
}

/** 3 when the server is part of a cluster, 1 on a single node. */
export function detectReplicas(nc: NatsConnection): number {
  return nc.info?.cluster ? 3 : 1;
}

export function streamConfig(definition: StreamDefinition, replicas: number): Partial<StreamConfig> & { name: string } {
  return {
    name: definition.name,
    description: definition.description,
    subjects: definition.subjects,
    storage: StorageType.File,
    ...(definition.layout === 'timers'
      ? { retention: RetentionPolicy.Workqueue, discard: DiscardPolicy.New, max_msgs_per_subject: 1, discard_new_per_subject: true }
      : { retention: RetentionPolicy.Limits, discard: DiscardPolicy.Old }),
    max_age: nanos(definition.maxAgeMs),
    max_bytes: definition.maxBytes,
    max_msg_size: definition.maxMsgSize,
    duplicate_window: nanos(definition.duplicateWindowMs),
    num_replicas: replicas,
    allow_direct: true,
  };
}

/**
 * The consumer's backoff as nats-server 2.9.10 takes it: shorter than max_deliver (the waits of
 * deliveries that cannot happen are dropped), none with unlimited deliveries (timers).
 */
function backoffOf(definition: ConsumerDefinition): number[] | undefined {
  if (!definition.ackBackoffMs?.length || definition.maxDeliver <= 1) return undefined;
  return definition.ackBackoffMs.slice(0, definition.maxDeliver - 1);
}

export function consumerConfig(definition: ConsumerDefinition): Partial<ConsumerConfig> & { durable_name: string } {
  const backoff = backoffOf(definition);
  return {
    durable_name: definition.durable,
    description: definition.description,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    replay_policy: ReplayPolicy.Instant,
    filter_subject: definition.filterSubject,
    // With a backoff the server takes its first step as the ack wait: say so, or every apply would differ.
    ack_wait: nanos(backoff?.[0] ?? definition.ackWaitMs),
    ...(backoff ? { backoff: backoff.map((ms) => nanos(ms)) } : {}),
    max_deliver: definition.maxDeliver,
    max_ack_pending: definition.maxAckPending,
  };
}

function bucketWanted(definition: BucketDefinition, replicas: number): Record<string, unknown> {
  return {
    description: definition.description,
    max_msgs_per_subject: definition.history,
    max_age: nanos(definition.maxAgeMs),
    max_msg_size: definition.maxValueSize,
    num_replicas: replicas,
  };
}

/** Fields whose arrays are sets (their order means nothing); any other array is a sequence (a backoff). */
const SET_FIELDS = new Set(['subjects']);

function normalize(key: string, value: unknown): string {
  return JSON.stringify(Array.isArray(value) && SET_FIELDS.has(key) ? [...value].sort() : value ?? null);
}

/** Fields of `wanted` whose value differs in `current`. */
function diffFields(current: Record<string, unknown>, wanted: Record<string, unknown>): string[] {
  return Object.entries(wanted)
    .filter(([key, value]) => normalize(key, current[key]) !== normalize(key, value))
    .map(([key, value]) => `${key}: ${normalize(key, current[key])} → ${normalize(key, value)}`);
}

const IMMUTABLE_STREAM = ['storage', 'retention'];
const IMMUTABLE_CONSUMER = ['ack_policy', 'deliver_policy', 'durable_name'];

/** A JetStream "stream not found" or "consumer not found": the object does not exist yet. */
function notFound(error: unknown): boolean {
  return isStreamNotFound(error) || isConsumerNotFound(error);
}

/** One declared object as reconcile sees it: how to read, create and update it on the server. */
export interface Reconcilable {
  kind: Change['kind'];
  name: string;
  /** The fields the declaration sets, as the server reports them. */
  wanted: Record<string, unknown>;
  /** Its configuration on the server, undefined when it does not exist. */
  read(): Promise<Record<string, unknown> | undefined>;
  create(): Promise<void>;
  /** Makes the server's configuration `wanted`, given `current`. */
  update(current: Record<string, unknown>): Promise<void>;
  /** Fields the server cannot change in place: a difference in them is a conflict, and nothing is touched. */
  immutable?: readonly string[];
  /** Why a difference in the immutable fields (their names given) cannot be applied, and what to do. */
  conflictDetail?: (fields: string[]) => string;
  /** When set, an update the server refuses is reported as a conflict with this detail instead of thrown. */
  refusedDetail?: (error: unknown) => string;
}

/**
 * Brings one object to its declaration: creates it when missing, updates the fields that differ,
 * reports a conflict for a difference it cannot apply in place, and leaves an equal one alone.
 * A dry run reads and compares only. Idempotent: a second run reports `unchanged`.
 */
export async function reconcile(object: Reconcilable, dryRun: boolean): Promise<Change> {
  const { kind, name } = object;
  const current = await object.read();
  if (!current) {
    if (!dryRun) await object.create();
    return { kind, name, action: ChangeActions.create, fields: [] };
  }
  const fields = diffFields(current, object.wanted);
  const immutable = fields.filter((f) => (object.immutable ?? []).some((key) => f.startsWith(`${key}:`)));
  if (immutable.length) {
    const names = immutable.map((f) => f.split(':')[0]!);
    return { kind, name, action: ChangeActions.conflict, fields, detail: object.conflictDetail?.(names) ?? `cannot change ${names.join(', ')} in place: delete it and apply again` };
  }
  if (!fields.length) return { kind, name, action: ChangeActions.unchanged, fields: [] };
  try {
    if (!dryRun) await object.update(current);
    return { kind, name, action: ChangeActions.update, fields };
  } catch (error) {
    if (!object.refusedDetail) throw error;
    return { kind, name, action: ChangeActions.conflict, fields, detail: object.refusedDetail(error) };
  }
}

/** `read` of an object that may not exist: its configuration, or undefined on "not found". */
async function existing(info: () => Promise<{ config: object }>): Promise<Record<string, unknown> | undefined> {
  try {
    return (await info()).config as Record<string, unknown>;
  } catch (error) {
    if (!notFound(error)) throw error;
    return undefined;
  }
}

/**
 * Creates what is missing and updates what differs, stream by stream, then consumers, then
 * buckets (reconcile, one object at a time). Idempotent: a second run finds everything
 * `unchanged`. A difference the server cannot apply in place (storage, retention, ack/deliver
 * policy) is reported as a conflict with what to do, and nothing else about that object is touched.
 */
export async function applyTopology(nc: NatsConnection, topology: Topology, options: { dryRun?: boolean } = {}): Promise<ApplyReport> {
  const dryRun = options.dryRun ?? false;
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc);
  } catch (error) {
    throw new AgentbusError(StreamsErrorCodes.jetstreamUnavailable, `JetStream is not available on this server: ${describeError(error)}`, {
      cause: error,
      retryable: true,
      hint: 'start nats-server with JetStream enabled (-js, or a jetstream {} block); in a cluster, wait for the meta leader',
    });
  }
  const changes: Change[] = [];

  for (const definition of topology.streams) {
    const wanted = streamConfig(definition, topology.replicas);
    changes.push(
      await reconcile(
        {
          kind: 'stream',
          name: definition.name,
          wanted,
          read: () => existing(() => jsm.streams.info(definition.name)),
          create: async () => void (await jsm.streams.add(wanted)),
          update: async (current) => void (await jsm.streams.update(definition.name, { ...(current as Partial<StreamConfig>), ...wanted })),
          immutable: IMMUTABLE_STREAM,
          conflictDetail: (names) => `cannot change ${names.join(', ')} in place: back the stream up, delete it and apply again`,
        },
        dryRun,
      ),
    );
  }

  for (const definition of topology.consumers) {
    const wanted = consumerConfig(definition);
    changes.push(await reconcile(
      {
        kind: 'consumer',
        name: `${definition.stream}/${definition.durable}`,
        wanted,
        read: () => existing(() => jsm.consumers.info(definition.stream, definition.durable)),
        create: async () => void (await jsm.consumers.add(definition.stream, wanted)),
        update: async () => void (await jsm.consumers.update(definition.stream, definition.durable, wanted)),
        immutable: IMMUTABLE_CONSUMER,
        conflictDetail: () => 'cannot change these in place on nats-server 2.9: delete the consumer (its position is lost) or declare a new durable name',
        refusedDetail: (error) => `the server refused the update (${describeError(error)}): delete the consumer or declare a new durable name`,
      },
      dryRun,
    ));
  }

  const kvm = new Kvm(nc);
  for (const definition of topology.buckets) {
    const streamName = `KV_${definition.bucket}`;
    const wanted = bucketWanted(definition, topology.replicas);
    changes.push(
      await reconcile(
        {
          kind: 'bucket',
          name: definition.bucket,
          wanted,
          read: () => existing(() => jsm.streams.info(streamName)),
          create: async () =>
            void (await kvm.create(definition.bucket, {
              description: definition.description,
              history: definition.history,
              ttl: definition.maxAgeMs,
              maxValueSize: definition.maxValueSize,
              replicas: topology.replicas,
            })),
          update: async (current) => void (await jsm.streams.update(streamName, { ...(current as Partial<StreamConfig>), ...wanted })),
        },
        dryRun,
      ),
    );
  }

  const conflicts = changes.filter((c) => c.action === 'conflict').length;
  return { dryRun, replicas: topology.replicas, changes, changed: changes.some((c) => c.action === 'create' || c.action === 'update'), conflicts };
}
