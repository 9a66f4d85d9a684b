import { errors, RequestError } from '@nats-io/transport-node';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
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
  /** No NATS server given (NATS_URL empty). */
  natsUrlInvalid: 'nats-url-invalid',
  /** No NATS server answered the connection. */
  natsUnreachable: 'nats-unreachable',
  /** The server refused this connection's credentials (or got none where it requires them). */
  natsAuthFailed: 'nats-auth-failed',
  /** A seed file that cannot be read or holds no nkey seed. */
  natsCredentialsInvalid: 'nats-credentials-invalid',
  /** Client TLS files given half (a certificate without its key). */
  natsTlsInvalid: 'nats-tls-invalid',
  /** The server refused a publish or subscription of this identity (its permissions). */
  permissionDenied: 'permission-denied',
  /** A ledger key part with characters a KV key cannot have. */
  ledgerKeyInvalid: 'ledger-key-invalid',
  /** The idempotency ledger's bucket does not exist (`agentbus streams apply`). */
  ledgerMissing: 'ledger-missing',
  /** Another owner holds the lease. */
  leaseBusy: 'lease-busy',
  /** The lease bucket does not exist (`agentbus streams apply`). */
  leaseBucketMissing: 'lease-bucket-missing',
  /** The watchdog's bucket (heartbeats) does not exist (`agentbus streams apply`). */
  watchdogBucketMissing: 'watchdog-bucket-missing',
  /** A lease name with characters a KV key cannot have. */
  leaseResourceInvalid: 'lease-resource-invalid',
} as const;
export type BusErrorCode = (typeof BusErrorCodes)[keyof typeof BusErrorCodes];

declare module '@agentbus/contracts' {
  interface AgentbusErrorCodeMaps {
    bus: typeof BusErrorCodes;
  }
}

export const isBusError = errorGuard(BusError);

/** nats-server refused a publish or a subscription for lack of permission (PermissionViolationError). */
export function isPermissionViolation(error: unknown): error is InstanceType<typeof errors.PermissionViolationError> {
  if (error instanceof errors.PermissionViolationError) return true;
  const cause = error instanceof Error ? error.cause : undefined;
  return cause !== undefined && cause !== error && isPermissionViolation(cause);
}

function violationOf(error: unknown): InstanceType<typeof errors.PermissionViolationError> | undefined {
  if (error instanceof errors.PermissionViolationError) return error;
  const cause = error instanceof Error ? error.cause : undefined;
  return cause !== undefined && cause !== error ? violationOf(cause) : undefined;
}

/**
 * A permission violation as the error to show: which identity the server refused, what it
 * refused (publish or subscribe, and the subject) and what to do. Other errors are returned as
 * they are.
 */
export function describePermissionDenied(error: unknown, identity: string): unknown {
  const violation = violationOf(error);
  if (!violation) return error;
  const what = violation.operation === 'subscription' ? 'subscribe to' : 'publish to';
  return new BusError('permission-denied', `NATS refused identity ${identity} permission to ${what} "${violation.subject}"`, {
    cause: error,
    hint: violation.subject.startsWith('$JS.API.STREAM.') || violation.subject.startsWith('$JS.API.CONSUMER.DURABLE')
      ? 'only the admin identity may create or change streams and consumers: run it with the admin credentials (NATS_NKEY_SEED_FILE=<dir>/admin.nk)'
      : `the permissions of ${identity} (derived from the topology by \`agentbus auth init\`) do not include it: use the identity that owns that subject, or regenerate the server's authorization after an upgrade`,
    details: { identity, operation: violation.operation, subject: violation.subject },
  });
}

/** A JetStream "no responders": no stream leader right now (election, restart) or no stream at all. */
export function isNoResponders(error: unknown): boolean {
  if (error instanceof RequestError && error.isNoResponders()) return true;
  if (error instanceof errors.NoRespondersError) return true;
  const cause = error instanceof Error ? error.cause : undefined;
  return cause !== undefined && cause !== error && isNoResponders(cause);
}

/**
 * JetStream API error codes agentbus branches on that @nats-io/jetstream's JetStreamApiCodes does
 * not name (nats-server's JSStreamStoreFailedF, which carries "maximum messages per subject
 * exceeded", and JSStorageResourcesExceededErr).
 */
export const MoreJetStreamApiCodes = {
  StreamStoreFailed: 10077,
  /** A message delete that found nothing at that sequence (2.9.10 answers "stream store EOF"). */
  StreamMsgDeleteFailed: 10057,
  StorageResourcesExceeded: 10047,
} as const;

/** JetStream errors sent with status 503 that are answers, not unavailability: a timers stream's subject holds its message; the store is full. */
const PERMANENT_503_CODES: ReadonlySet<number> = new Set([MoreJetStreamApiCodes.StreamStoreFailed, MoreJetStreamApiCodes.StorageResourcesExceeded]);

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

/**
 * JetStream's "wrong last sequence": a create-only key or an expected sequence already taken
 * (StreamWrongLastSequence), or expected on a subject the stream does not know
 * (StreamWrongLastSequenceUnknown, from newer servers for the same race). The one predicate for
 * it: the ledger, the leases and the state store's NATS KV backend all ask here.
 */
export function isWrongLastSequence(error: unknown): boolean {
  return error instanceof JetStreamApiError && (error.code === JetStreamApiCodes.StreamWrongLastSequence || error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}

/** A get or delete of a stream message that is not (or no longer) there. */
export function isMessageNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && (error.code === JetStreamApiCodes.NoMessageFound || error.code === MoreJetStreamApiCodes.StreamMsgDeleteFailed);
}

export function isStreamNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound;
}

export function isConsumerNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound;
}
