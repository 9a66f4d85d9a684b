import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { StreamNames } from '@agentbus/contracts';
import { Headers, resentMsgId } from './headers.ts';
import { carriedHeaders, getStoredMessage, readStream, type StoredMessage } from './stream-reader.ts';
import type { Publisher, PublishResult } from './publisher.ts';

/** A dead letter as an operator sees it. */
export interface DeadLetter {
  /** Sequence in AGENT_DLQ. */
  seq: number;
  time: Date;
  consumer: string;
  reason: string;
  error: string;
  deliveries: number;
  /** Where the original is (or was) stored. */
  original: { stream: string; seq: number; subject: string; time: string | undefined; msgId: string | undefined };
  /** Envelope fields copied in headers, when the original was an agentbus envelope. */
  type: string | undefined;
  correlationId: string | undefined;
  /** The original's own headers. */
  headers: Record<string, string>;
  data: Uint8Array;
  /** Set when the body was too large to carry: it is read from the original stream on redrive. */
  bodyOmitted: string | undefined;
}

export function toDeadLetter(stored: StoredMessage): DeadLetter {
  const h = stored.headers;
  return {
    seq: stored.seq,
    time: stored.time,
    consumer: h[Headers.dlq.consumer] ?? 'unknown',
    reason: h[Headers.dlq.reason] ?? 'unknown',
    error: h[Headers.dlq.error] ?? '',
    deliveries: Number(h[Headers.dlq.deliveries] ?? 0),
    original: {
      stream: h[Headers.dlq.stream] ?? 'unknown',
      seq: Number(h[Headers.dlq.sequence] ?? 0),
      subject: h[Headers.dlq.subject] ?? '',
      time: h[Headers.dlq.originalTime],
      msgId: h[Headers.dlq.originalMsgId],
    },
    type: h[Headers.type],
    correlationId: h[Headers.correlationId],
    headers: carriedHeaders(h),
    data: stored.data,
    bodyOmitted: h[Headers.dlq.bodyOmitted],
  };
}

export async function listDeadLetters(nc: NatsConnection, options: { fromSeq?: number; subject?: string } = {}): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  for await (const stored of readStream(nc, { stream: StreamNames.dlq, fromSeq: options.fromSeq ?? 1, subject: options.subject })) {
    out.push(toDeadLetter(stored));
  }
  return out;
}

export async function getDeadLetter(nc: NatsConnection, seq: number): Promise<DeadLetter> {
  return toDeadLetter(await getStoredMessage(nc, StreamNames.dlq, seq));
}

/**
 * Puts a dead letter back on its original subject (with `Agentbus-Redriven-From: AGENT_DLQ/<seq>`)
 * and, once the stream has confirmed it, removes it from AGENT_DLQ. The redriven message keeps
 * the original's headers and body (read back from the original stream when the dead letter only
 * pointed at it), so consumers that already handled it skip it and the failed one handles it.
 */
export async function redriveDeadLetter(nc: NatsConnection, publisher: Publisher<any>, letter: DeadLetter): Promise<PublishResult> {
  const body = letter.bodyOmitted ? (await getStoredMessage(nc, letter.original.stream, letter.original.seq)).data : letter.data;
  const msgId = resentMsgId(body, `redrive.${StreamNames.dlq}.${letter.seq}`);
  const ack = await publisher.publishRaw({
    subject: letter.original.subject,
    body,
    msgId,
    headers: { ...letter.headers, [Headers.redrivenFrom]: `${StreamNames.dlq}/${letter.seq}` },
  });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.deleteMessage(StreamNames.dlq, letter.seq, false);
  return { ...ack, id: msgId, type: letter.type ?? 'unknown', subject: letter.original.subject };
}
