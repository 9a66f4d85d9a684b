import type { MsgHdrs } from '@nats-io/transport-node';
import { dlqSubject } from '@agentbus/contracts';
import type { Publisher, PublishResult } from './publisher.ts';
import { Headers, headerValue, isPerPublishHeader } from './headers.ts';
import { isBusError } from './errors.ts';

/** Why a message was dead-lettered. */
export const DeadLetterReasons = {
  malformedJson: 'malformed-json',
  invalidEnvelope: 'invalid-envelope',
  unknownType: 'unknown-type',
  invalidData: 'invalid-data',
  /** A known type that no handler of the consumer takes, on a subject meant for that consumer (a task subject). */
  unhandledType: 'unhandled-type',
  /** A type a handler takes, on a subject that is not its own (a forgery, or a misrouted publish): acted on by no handler. */
  subjectMismatch: 'subject-mismatch',
  /**
   * The message's Nats-Msg-Id does not name its envelope (msgIdNamesEnvelope): JetStream's
   * duplicate window would speak of another id than the idempotency ledger. Acted on by no handler.
   */
  idMismatch: 'id-mismatch',
  /** The handler failed for good (a non-retryable error). */
  handlerFailed: 'handler-failed',
  /** The handler failed on every one of max_deliver attempts. */
  retriesExhausted: 'retries-exhausted',
  /** The worker never finished its last delivery (crash or ack time-out): found by the advisory. */
  maxDeliveries: 'max-deliveries',
} as const;
export type DeadLetterReason = (typeof DeadLetterReasons)[keyof typeof DeadLetterReasons];

/** A message as it was stored in its stream, and what happened to it. */
export interface FailedMessage {
  stream: string;
  seq: number;
  subject: string;
  headers: MsgHdrs | undefined;
  data: Uint8Array;
  /** When the original was stored. */
  time: Date;
  consumer: string;
  deliveries: number;
  reason: DeadLetterReason;
  error: string;
}

/**
 * Publishes a dead letter to `dlq.<stream>.<consumer>`: the original body unchanged, the
 * original headers (less per-publish ones), and the failure in Agentbus-Dlq-* headers.
 * The dedup id is `dlq.<stream>.<seq>.<consumer>`, so the handler path and the advisory safety
 * net can both try without making two dead letters.
 */
export async function deadLetter(publisher: Publisher<any>, failed: FailedMessage): Promise<PublishResult> {
  const subject = dlqSubject(failed.stream, failed.consumer);
  const msgId = `dlq.${failed.stream}.${failed.seq}.${failed.consumer}`;
  const headers: Record<string, string> = {};
  for (const [name, values] of failed.headers ?? []) {
    if (!isPerPublishHeader(name) && values[0] !== undefined) headers[name] = values[0];
  }
  const originalMsgId = failed.headers?.get(Headers.msgId);
  Object.assign(headers, {
    [Headers.dlq.stream]: failed.stream,
    [Headers.dlq.sequence]: String(failed.seq),
    [Headers.dlq.subject]: failed.subject,
    [Headers.dlq.consumer]: failed.consumer,
    [Headers.dlq.deliveries]: String(failed.deliveries),
    [Headers.dlq.reason]: failed.reason,
    [Headers.dlq.error]: headerValue(failed.error, 2000),
    [Headers.dlq.time]: new Date().toISOString(),
    [Headers.dlq.originalTime]: failed.time.toISOString(),
    ...(originalMsgId ? { [Headers.dlq.originalMsgId]: originalMsgId } : {}),
  });
  try {
    const ack = await publisher.publishRaw({ subject, body: failed.data, msgId, headers });
    return { ...ack, id: msgId, type: 'dead-letter', subject };
  } catch (error) {
    if (!isBusError(error, 'payload-too-large')) throw error;
    // The original does not fit beside the failure headers. It stays in its stream (limits
    // retention), so the dead letter points at it instead of carrying it.
    headers[Headers.dlq.bodyOmitted] = `too large: ${failed.data.length} bytes; read ${failed.stream} seq ${failed.seq}`;
    const ack = await publisher.publishRaw({ subject, body: new Uint8Array(), msgId, headers });
    return { ...ack, id: msgId, type: 'dead-letter', subject };
  }
}
