import { errors, RequestError } from '@nats-io/transport-node';
import { JetStreamApiError } from '@nats-io/jetstream';
import { AgentbusError, errorGuard, type AgentbusErrorOptions } from '@agentbus/contracts';

/** Errors of the bus: each with a stable code and a hint. */
export class BusError extends AgentbusError {
  declare readonly code: BusErrorCode;

  constructor(code: BusErrorCode, message: string, options: AgentbusErrorOptions = {}) {
    super(code, message, options);
  }
}

export const BusErrorCodes = {
  payloadTooLarge: 'payload-too-large',
  publishUnconfirmed: 'publish-unconfirmed',
  streamMissing: 'stream-missing',
  consumerMissing: 'consumer-missing',
  notFound: 'not-found',
  invalidFilter: 'invalid-filter',
} as const;
export type BusErrorCode = (typeof BusErrorCodes)[keyof typeof BusErrorCodes];

export const isBusError = errorGuard(BusError);

/** A JetStream "no responders": no stream leader right now (election, restart) or no stream at all. */
export function isNoResponders(error: unknown): boolean {
  if (error instanceof RequestError && error.isNoResponders()) return true;
  if (error instanceof errors.NoRespondersError) return true;
  const cause = error instanceof Error ? error.cause : undefined;
  return cause !== undefined && cause !== error && isNoResponders(cause);
}

/** JetStream errors sent with status 503 that are answers, not unavailability: 10077 a timers stream's subject holds its message; 10047 the store is full. */
const PERMANENT_503_CODES: ReadonlySet<number> = new Set([10077, 10047]);

/** Failures where the request may or may not have reached the server: retry with the same id. */
export function isTransientNatsError(error: unknown): boolean {
  if (error instanceof errors.TimeoutError) return true;
  if (isNoResponders(error)) return true;
  if (error instanceof errors.ConnectionError) return true;
  // A 503 is the server's "not now" (no leader, a restart), except answers about the stream's own
  // limits, which no retry changes.
  if (error instanceof JetStreamApiError && error.status === 503) return !PERMANENT_503_CODES.has(error.code);
  return false;
}

/** JetStream's "wrong last sequence" (10071): a create-only key or expected sequence already taken. */
export function isWrongLastSequence(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === 10071;
}

export function isStreamNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === 10059;
}

export function isConsumerNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === 10014;
}
