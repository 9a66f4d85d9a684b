import { nanos, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, JetStreamApiError, ReplayPolicy } from '@nats-io/jetstream';
import { BusError, isStreamNotFound } from './errors.ts';
import { Headers, isPerPublishHeader, resentMsgId } from './headers.ts';
import { retryTransient } from './retry.ts';
import type { Publisher, PublishResult } from './publisher.ts';

/** A message as its stream holds it. */
export interface StoredMessage {
  stream: string;
  seq: number;
  subject: string;
  time: Date;
  headers: Record<string, string>;
  data: Uint8Array;
}

export interface ReadOptions {
  stream: string;
  /** First sequence to read (default 1); ignored when `fromTime` is given. */
  fromSeq?: number;
  /** Read from the first message stored at or after this time instead. */
  fromTime?: Date;
  /** Inclusive; defaults to the last sequence when reading starts (later messages are not read). */
  toSeq?: number;
  /** A subject filter (wildcards allowed). */
  subject?: string;
  batch?: number;
}

export function headersToRecord(h: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, values] of h ?? []) if (values[0] !== undefined) out[name] = values[0];
  return out;
}

/**
 * Reads stored messages in sequence order from `fromSeq` to `toSeq` with an ephemeral,
 * unacknowledged, in-memory pull consumer (the way `nats stream view` pages), deleted when done.
 * Durable consumers are not touched: replay never moves a service's position.
 */
export async function* readStream(nc: NatsConnection, options: ReadOptions): AsyncGenerator<StoredMessage> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  let last: number;
  let subjects: string[];
  try {
    const info = await retryTransient(() => jsm.streams.info(options.stream));
    last = info.state.last_seq;
    subjects = info.config.subjects ?? [];
  } catch (error) {
    if (isStreamNotFound(error)) {
      throw new BusError('stream-missing', `stream ${options.stream} does not exist`, { hint: 'list streams with `agentbus streams apply --dry-run`; names are upper case (AGENT_TASKS, AGENT_EVENTS, AGENT_DLQ)' });
    }
    throw error;
  }
  const upper = Math.min(options.toSeq ?? last, last);
  const fromSeq = options.fromSeq ?? 1;
  if (!options.fromTime && fromSeq > upper) return;
  let info;
  try {
    info = await retryTransient(() => jsm.consumers.add(options.stream, {
      ack_policy: AckPolicy.None,
      ...(options.fromTime
        ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: options.fromTime.toISOString() }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Math.max(1, fromSeq) }),
      replay_policy: ReplayPolicy.Instant,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(60_000),
      ...(options.subject ? { filter_subject: options.subject } : {}),
    }));
  } catch (error) {
    if (options.subject && error instanceof JetStreamApiError && error.status === 400) {
      throw new BusError('invalid-filter', `subject filter "${options.subject}" is not within the subjects of stream ${options.stream} (${subjects.join(', ')}): ${error.message}`, {
        hint: `use a subject (wildcards allowed) under ${subjects.join(' or ')}`,
      });
    }
    throw error;
  }
  try {
    let remaining = info.num_pending;
    if (remaining === 0) return;
    const consumer = await jetstream(nc).consumers.get(options.stream, info.name);
    const batch = options.batch ?? 256;
    while (remaining > 0) {
      const messages = await consumer.fetch({ max_messages: Math.min(batch, remaining), expires: 5_000 });
      let got = 0;
      for await (const m of messages) {
        got++;
        remaining = m.info.pending;
        if (m.seq > upper) return;
        yield { stream: options.stream, seq: m.seq, subject: m.subject, time: m.time, headers: headersToRecord(m.headers), data: m.data };
        if (m.seq === upper) return;
      }
      if (got === 0) return;
    }
  } finally {
    await jsm.consumers.delete(options.stream, info.name).catch(() => {});
  }
}

/** Fetches one stored message by sequence; BusError `not-found` when there is none. */
export async function getStoredMessage(nc: NatsConnection, stream: string, seq: number): Promise<StoredMessage> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  let stored;
  try {
    stored = await retryTransient(() => jsm.streams.getMessage(stream, { seq }));
  } catch (error) {
    if (isStreamNotFound(error)) throw new BusError('stream-missing', `stream ${stream} does not exist`, { hint: 'create it with `agentbus streams apply`' });
    throw error;
  }
  if (!stored) {
    throw new BusError('not-found', `no message at sequence ${seq} in ${stream}`, { hint: `list what is there with \`agentbus replay --stream ${stream} --from-seq 1\``, details: { stream, seq } });
  }
  return { stream, seq: stored.seq, subject: stored.subject, time: stored.time, headers: headersToRecord(stored.header), data: stored.data };
}

/** Headers of a stored message minus those that belong to its own publish or failure. */
export function carriedHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !isPerPublishHeader(name)));
}

/**
 * Re-sends a stored message to its subject with `Agentbus-Replayed-From: <stream>/<seq>`. The dedup
 * id is `<envelope id>/replay.<stream>.<seq>` (resentMsgId), so replaying the same range twice
 * inside the duplicate window sends it once; consumers skip what they already handled
 * (idempotency ledger).
 */
export async function republish(publisher: Publisher<any>, message: StoredMessage): Promise<PublishResult> {
  const msgId = resentMsgId(message.data, `replay.${message.stream}.${message.seq}`);
  const ack = await publisher.publishRaw({
    subject: message.subject,
    body: message.data,
    msgId,
    headers: { ...carriedHeaders(message.headers), [Headers.replayedFrom]: `${message.stream}/${message.seq}` },
  });
  return { ...ack, id: msgId, type: message.headers[Headers.type] ?? 'unknown', subject: message.subject };
}
