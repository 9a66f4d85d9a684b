import type { NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
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

/**
 * Follows AGENT_EVENTS live from `since` (an ordered consumer: no durable state, nothing to clean
 * up) and yields each event of the incident as it is stored, until the caller stops iterating
 * or `signal` aborts.
 */
export async function* followIncident(nc: NatsConnection, correlationId: string, options: { since: Date; signal?: AbortSignal }): AsyncGenerator<IncidentEvent> {
  const consumer = await jetstream(nc).consumers.get(StreamNames.events, {
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: options.since.toISOString(),
    filter_subjects: 'events.>',
  });
  const messages = await consumer.consume();
  const stop = () => messages.stop();
  options.signal?.addEventListener('abort', stop, { once: true });
  if (options.signal?.aborted) stop();
  try {
    for await (const m of messages) {
      const header = m.headers?.get(Headers.correlationId);
      if (header && header !== correlationId) continue;
      const event = toEvent(m.data, m.seq);
      if (event && event.correlationId === correlationId) yield event;
    }
  } finally {
    options.signal?.removeEventListener('abort', stop);
    messages.stop();
  }
}
