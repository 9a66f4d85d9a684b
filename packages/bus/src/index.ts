export { connectNats, parseServers, inboxPrefixFor, natsEnvShape, natsAuthFrom, identityOf, type ConnectOptions, type NatsEnv } from './connect.ts';
export { missingPermissions, type PermissionNeed } from './preflight.ts';
export { Headers } from './headers.ts';
export { BusError, BusErrorCodes, isBusError, isPermissionViolation, describePermissionDenied, isNoResponders, isTransientNatsError, isWrongLastSequence, isStreamNotFound, isMessageNotFound, isConsumerNotFound, MoreJetStreamApiCodes, type BusErrorCode } from './errors.ts';
export { backoff, backoffDelayMs, type BackoffOptions } from './backoff.ts';
export { Publisher, type PublisherOptions, type PublishOptions, type PublishResult, type RawPublish } from './publisher.ts';
export {
  ConsumerRunner,
  Outcomes,
  PullLostReasons,
  type PullLostReason,
  UnhandledTypePolicies,
  silentLogger,
  willBeRetried,
  type ConsumerRunnerOptions,
  type ConsumerHooks,
  type DeliveryInfo,
  type Handler,
  type HandlerContext,
  type HandlerMap,
  type BusLogger,
  type Outcome,
  type UnhandledTypePolicy,
} from './consumer.ts';
export { IdempotencyLedger, LEDGER_BUCKET } from './ledger.ts';
export { deadLetter, DeadLetterReasons, type DeadLetterReason, type FailedMessage } from './dead-letter.ts';
export { readStream, getStoredMessage, republish, headersToRecord, type StoredMessage, type ReadOptions } from './stream-reader.ts';
export { listDeadLetters, getDeadLetter, redriveDeadLetter, toDeadLetter, type DeadLetter } from './dlq.ts';
export { LeaseManager, LeaseBusyError, LEASE_BUCKET, type HeldLease, type LeaseAcquireOptions } from './lease.ts';
export { retryTransient } from './retry.ts';
export { startTimerOnce, isSubjectFull } from './timers.ts';
export { Bucket } from './kv.ts';
export { Heartbeats, WATCHDOG_BUCKET, heartbeatSchema, instanceName, type Heartbeat } from './heartbeats.ts';
