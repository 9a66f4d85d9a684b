import { nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
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
import type { BucketDefinition, ConsumerDefinition, StreamDefinition, Topology } from './definitions.ts';

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

function notFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && (error.code === 10059 || error.code === 10014);
}

/**
 * Creates what is missing and updates what differs, stream by stream, then consumers, then
 * buckets. Idempotent: a second run finds everything `unchanged`. A difference the server cannot
 * apply in place (storage, retention, ack/deliver policy) is reported as a conflict with what to
 * do, and nothing else about that object is touched.
 */
export async function applyTopology(nc: NatsConnection, topology: Topology, options: { dryRun?: boolean } = {}): Promise<ApplyReport> {
  const dryRun = options.dryRun ?? false;
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc);
  } catch (error) {
    throw new AgentbusError('jetstream-unavailable', `JetStream is not available on this server: ${describeError(error)}`, {
      cause: error,
      retryable: true,
      hint: 'start nats-server with JetStream enabled (-js, or a jetstream {} block); in a cluster, wait for the meta leader',
    });
  }
  const changes: Change[] = [];

  for (const definition of topology.streams) {
    const wanted = streamConfig(definition, topology.replicas);
    let current: StreamConfig | undefined;
    try {
      current = (await jsm.streams.info(definition.name)).config;
    } catch (error) {
      if (!notFound(error)) throw error;
    }
    if (!current) {
      if (!dryRun) await jsm.streams.add(wanted);
      changes.push({ kind: 'stream', name: definition.name, action: 'create', fields: [] });
      continue;
    }
    const fields = diffFields(current as unknown as Record<string, unknown>, wanted);
    const immutable = fields.filter((f) => IMMUTABLE_STREAM.some((key) => f.startsWith(`${key}:`)));
    if (immutable.length) {
      changes.push({ kind: 'stream', name: definition.name, action: 'conflict', fields, detail: `cannot change ${immutable.map((f) => f.split(':')[0]).join(', ')} in place: back the stream up, delete it and apply again` });
    } else if (fields.length) {
      if (!dryRun) await jsm.streams.update(definition.name, { ...current, ...wanted });
      changes.push({ kind: 'stream', name: definition.name, action: 'update', fields });
    } else {
      changes.push({ kind: 'stream', name: definition.name, action: 'unchanged', fields: [] });
    }
  }

  for (const definition of topology.consumers) {
    const name = `${definition.stream}/${definition.durable}`;
    const wanted = consumerConfig(definition);
    let current: ConsumerConfig | undefined;
    try {
      current = (await jsm.consumers.info(definition.stream, definition.durable)).config;
    } catch (error) {
      if (!notFound(error)) throw error;
    }
    if (!current) {
      if (!dryRun) await jsm.consumers.add(definition.stream, wanted);
      changes.push({ kind: 'consumer', name, action: 'create', fields: [] });
      continue;
    }
    const fields = diffFields(current as unknown as Record<string, unknown>, wanted);
    const immutable = fields.filter((f) => IMMUTABLE_CONSUMER.some((key) => f.startsWith(`${key}:`)));
    if (immutable.length) {
      changes.push({ kind: 'consumer', name, action: 'conflict', fields, detail: 'cannot change these in place on nats-server 2.9: delete the consumer (its position is lost) or declare a new durable name' });
      continue;
    }
    if (!fields.length) {
      changes.push({ kind: 'consumer', name, action: 'unchanged', fields: [] });
      continue;
    }
    try {
      if (!dryRun) await jsm.consumers.update(definition.stream, definition.durable, wanted);
      changes.push({ kind: 'consumer', name, action: 'update', fields });
    } catch (error) {
      changes.push({ kind: 'consumer', name, action: 'conflict', fields, detail: `the server refused the update (${describeError(error)}): delete the consumer or declare a new durable name` });
    }
  }

  const kvm = new Kvm(nc);
  for (const definition of topology.buckets) {
    const streamName = `KV_${definition.bucket}`;
    const wanted = bucketWanted(definition, topology.replicas);
    let current: StreamConfig | undefined;
    try {
      current = (await jsm.streams.info(streamName)).config;
    } catch (error) {
      if (!notFound(error)) throw error;
    }
    if (!current) {
      if (!dryRun) {
        await kvm.create(definition.bucket, {
          description: definition.description,
          history: definition.history,
          ttl: definition.maxAgeMs,
          maxValueSize: definition.maxValueSize,
          replicas: topology.replicas,
        });
      }
      changes.push({ kind: 'bucket', name: definition.bucket, action: 'create', fields: [] });
      continue;
    }
    const fields = diffFields(current as unknown as Record<string, unknown>, wanted);
    if (fields.length) {
      if (!dryRun) await jsm.streams.update(streamName, { ...current, ...wanted });
      changes.push({ kind: 'bucket', name: definition.bucket, action: 'update', fields });
    } else {
      changes.push({ kind: 'bucket', name: definition.bucket, action: 'unchanged', fields: [] });
    }
  }

  const conflicts = changes.filter((c) => c.action === 'conflict').length;
  return { dryRun, replicas: topology.replicas, changes, changed: changes.some((c) => c.action === 'create' || c.action === 'update'), conflicts };
}
