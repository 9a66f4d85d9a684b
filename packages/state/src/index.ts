export { StateStore, MAX_DATA_BYTES, type StateStoreOptions, type WriteOptions, type WriteResult, type StateVersion, type HistoryEntry, type HistoryResult, type VersionSelector, type VersionSummary, type DiffResult, type RestoreOptions, type RestoreResult, type VerifyAllResult, type RepairResult } from './store.ts';
export { BackendKinds, defaultRetryPolicy, type BackendKind, type StateBackend, type RetryPolicy, type AppendRequest, type AppendResult, type StoredSlot } from './backend.ts';
export { openStateBackend, openStateBackendFrom, stateEnvSchema, stateResource, type StateBackendConfig, type StateSettings } from './open.ts';
export { openNatsKvBackend, stateBucketConfig, ensureStateBucket, DEFAULT_STATE_BUCKET, type NatsKvBackendOptions, type StateBucketConfig } from './nats-kv-backend.ts';
export { openFirestoreBackend, FIRESTORE_INDEX_COLLECTION, type FirestoreBackendOptions } from './firestore-backend.ts';
export { ENVELOPE_FORMAT, Operations, sealVersion, encodeRecord, parseRecord, recomputeHashes, type Operation, type VersionEnvelope, type VersionRecord, type VersionSignature, type EnvelopeInput } from './envelope.ts';
export { IntegrityReasons, verifyDocument, checkRecord, chainBreakEscalation, refusedVersionOf, refusedReadEscalation, type RefusedVersion, type IntegrityReason, type VerifyFinding, type VerifyReport, type SignatureSummary } from './verify.ts';
export { diffData, formatChanges, ChangeKinds, type ChangeKind, type FieldChange } from './diff.ts';
export { canonicalJson } from './canonical-json.ts';
export { normalizeData, formatMicros, ValueTags, MAX_DATA_DEPTH, type JsonValue, type JsonObject } from './normalize.ts';
export { parseDocumentPath, type DocumentPath } from './document-path.ts';
export { Keyring, generateSigningKey, keyIdOf, SignatureStatus, type SigningOptions, type KeyInput, type SignatureCheck } from './signing.ts';
export {
  StateErrorCodes,
  StateError,
  StatePathError,
  StateDataError,
  StateInputError,
  StateNotFoundError,
  StateConflictError,
  StateVersionConflictError,
  StateWriteIdReusedError,
  StateIntegrityError,
  StateBucketMissingError,
  StateBackendError,
  StateSigningKeyError,
  isStateError,
  isStateConflict,
  isStateNotFound,
  isStateIntegrityError,
  type StateErrorCode,
} from './errors.ts';
