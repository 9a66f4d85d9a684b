import type { NatsConnection } from '@nats-io/transport-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeliverPolicy, jetstream, type ConsumerMessages } from '@nats-io/jetstream';
import { agentbusRegistry, parseEnvelope, StreamNames, type AgentbusRegistry, type AnyEnvelopeOf } from '@agentbus/contracts';
import { Headers, readStream } from '@agentbus/bus';

/** An agentbus event as read back from AGENT_EVENTS, with its stream position. */
export type IncidentEvent = AnyEnvelopeOf<AgentbusRegistry> & { seq: number };

function toEvent(data: Uint8Array, seq: number): IncidentEvent | undefined {
  try {
    return { ...(parseEnvelope(agentbusRegistry, data) as AnyEnvelopeOf<AgentbusRegistry>), seq };
  } catch {
    return undefined; // not a valid agentbus event: consumers dead-lettered it; it tells no story
  }
}

/**
 * Every event of one incident (one correlationId) stored since `since`, in stream order. The
 * correlation header lets most messages be skipped without parsing their bodies.
 */
export async function collectIncidentEvents(nc: NatsConnection, correlationId: string, options: { since?: Date } = {}): Promise<IncidentEvent[]> {
  const events: IncidentEvent[] = [];
  for await (const stored of readStream(nc, { stream: StreamNames.events, ...(options.since ? { fromTime: options.since } : { fromSeq: 1 }) })) {
    const header = stored.headers[Headers.correlationId];
    if (header !== undefined && header !== correlationId) continue;
    const event = toEvent(stored.data, stored.seq);
    if (event && event.correlationId === correlationId) events.push(event);
  }
  return events;
}

/** Consumer notifications after which a live pull has lost its place: start it again from the next sequence. */
const LOST_PULL = new Set(['heartbeats_missed', 'consumer_not_found', 'consumer_deleted', 'stream_not_found', 'no_responders']);

/**
 * Follows AGENT_EVENTS live from `since` and yields each event of the incident as it is stored,
 * in stream order and each once, until the caller stops iterating or `signal` aborts.
 *
 * It reads with an ordered consumer (no durable state, nothing to clean up) and survives what
 * such a consumer does not: a NATS restart or failover, a reconnect, missed heartbeats, a deleted
 * consumer. Each of those ends the current pull, and a new one starts at the sequence after the
 * last event read, so nothing stored meanwhile is missed and nothing is yielded twice.
 */
export async function* followIncident(nc: NatsConnection, correlationId: string, options: { since: Date; signal?: AbortSignal }): AsyncGenerator<IncidentEvent> {
  let nextSeq: number | undefined;
  while (!options.signal?.aborted) {
    let messages: ConsumerMessages | undefined;
    const restart = () => messages?.stop();
    const reconnects = watchReconnects(nc, restart);
    options.signal?.addEventListener('abort', restart, { once: true });
    try {
      const consumer = await jetstream(nc).consumers.get(StreamNames.events, {
        filter_subjects: 'events.>',
        ...(nextSeq === undefined
          ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: options.since.toISOString() }
          : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: nextSeq }),
      });
      messages = await consumer.consume({ expires: 5_000 });
      if (options.signal?.aborted) return;
      void (async () => {
        for await (const status of messages.status()) if (LOST_PULL.has(status.type)) restart();
      })().catch(() => {});
      for await (const m of messages) {
        nextSeq = m.seq + 1;
        const header = m.headers?.get(Headers.correlationId);
        if (header && header !== correlationId) continue;
        const event = toEvent(m.data, m.seq);
        if (event && event.correlationId === correlationId) yield event;
      }
    } catch {
      // No server right now (restarting, electing a leader): try again below.
    } finally {
      options.signal?.removeEventListener('abort', restart);
      reconnects.stop();
      messages?.stop();
    }
    if (!options.signal?.aborted) await sleep(250);
  }
}

/** Calls `onReconnect` each time the connection is re-established, until stop(). */
function watchReconnects(nc: NatsConnection, onReconnect: () => void): { stop(): void } {
  let stopped = false;
  const statuses = nc.status();
  void (async () => {
    for await (const status of statuses) {
      if (stopped) return;
      if (status.type === 'reconnect') onReconnect();
    }
  })().catch(() => {});
  return {
    stop: () => {
      stopped = true;
      (statuses as { stop?: () => void }).stop?.();
    },
  };
}
