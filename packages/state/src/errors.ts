import { AgentbusError, errorGuard, type AgentbusErrorOptions } from '@agentbus/contracts';

/**
 * Stable error codes of @agentbus/state. Callers branch on `code` (or the isXxx helpers), never
 * on message text.
 */
export const StateErrorCodes = {
  invalidPath: 'state-invalid-path',
  invalidData: 'state-invalid-data',
  invalidInput: 'state-invalid-input',
  documentNotFound: 'state-document-not-found',
  versionNotFound: 'state-version-not-found',
  conflict: 'state-conflict',
  versionConflict: 'state-version-conflict',
  writeIdReused: 'state-write-id-reused',
  integrity: 'state-integrity',
  bucketMissing: 'state-bucket-missing',
  backendUnavailable: 'state-backend-unavailable',
  signingKey: 'state-signing-key',
} as const;
export type StateErrorCode = (typeof StateErrorCodes)[keyof typeof StateErrorCodes];

declare module '@agentbus/contracts' {
  interface AgentbusErrorCodeMaps {
    state: typeof StateErrorCodes;
  }
}

/** Every error this package throws on purpose. */
export class StateError extends AgentbusError {
  declare readonly code: StateErrorCode;
  constructor(code: StateErrorCode, message: string, options: AgentbusErrorOptions = {}) {
    super(code, message, options);
  }
}

/** A document path that is not `<collection>/<id>` with allowed characters. Nothing was read or written. */
export class StatePathError extends StateError {
  constructor(path: string, problem: string) {
    super(StateErrorCodes.invalidPath, `document path ${JSON.stringify(path)} is not valid: ${problem}`, {
      hint: "a path is <collection>/<id>; each part is 1-128 letters, digits, '-' or '_', starting with a letter or digit (e.g. services/api-gateway)",
      details: { path },
    });
  }
}

/** Data that cannot be versioned (undefined, NaN, a sentinel, a class instance …). `field` names where. */
export class StateDataError extends StateError {
  readonly field: string;
  constructor(field: string, problem: string, hint: string) {
    super(StateErrorCodes.invalidData, `${field}: ${problem}`, { hint, details: { field } });
    this.field = field;
  }
}

/** A bad argument other than the path or the data: empty reason, bad version number, bad writeId … */
export class StateInputError extends StateError {
  constructor(message: string, hint: string, details: Record<string, unknown> = {}) {
    super(StateErrorCodes.invalidInput, message, { hint, details });
  }
}

export class StateNotFoundError extends StateError {
  constructor(code: typeof StateErrorCodes.documentNotFound | typeof StateErrorCodes.versionNotFound, message: string, hint: string, details: Record<string, unknown>) {
    super(code, message, { hint, details });
  }
}

export function documentNotFound(path: string): StateNotFoundError {
  return new StateNotFoundError(StateErrorCodes.documentNotFound, `document ${path} does not exist`, 'check the path; `agentbus state list` shows the versioned documents', { path });
}

export function versionNotFound(path: string, number: number, latest: number): StateNotFoundError {
  return new StateNotFoundError(
    StateErrorCodes.versionNotFound,
    `document ${path} has no version ${number} (its versions are 1 to ${latest})`,
    `pick a version from \`agentbus state history ${path}\``,
    { path, number, latest },
  );
}

/** The write lost the race for the next version number on every one of its attempts. Nothing was written. */
export class StateConflictError extends StateError {
  constructor(path: string, attempts: number, cause?: unknown) {
    super(StateErrorCodes.conflict, `gave up writing ${path} after ${attempts} attempts: other writers took every version number first`, {
      retryable: true,
      cause,
      hint: 'nothing was written; retry with the same writeId (it cannot be applied twice), or raise maxAttempts for this hot document',
      details: { path, attempts },
    });
  }
}

/** The caller asked to write on top of a given version (`ifVersion`) and the head is another one. */
export class StateVersionConflictError extends StateError {
  constructor(path: string, expected: number, actual: number) {
    super(StateErrorCodes.versionConflict, `${path} is at version ${actual}, not ${expected} as the write expected`, {
      hint: `read the document again (\`agentbus state get ${path}\`), then write on top of version ${actual}`,
      details: { path, expected, actual },
    });
  }
}

/** A writeId that already produced a version with other data: a new write needs a new writeId. */
export class StateWriteIdReusedError extends StateError {
  constructor(path: string, writeId: string, number: number) {
    super(StateErrorCodes.writeIdReused, `writeId ${JSON.stringify(writeId)} already wrote version ${number} of ${path} with different content`, {
      hint: 'a writeId names one logical write: retry with the same data, or use a new writeId for a new write',
      details: { path, writeId, number },
    });
  }
}

/** The stored history is damaged in a way that stops the operation (e.g. restoring a tampered version). */
export class StateIntegrityError extends StateError {
  constructor(message: string, hint: string, details: Record<string, unknown>) {
    super(StateErrorCodes.integrity, message, { hint, details });
  }
}

/** The JetStream KV bucket of the nats-kv backend does not exist yet. */
export class StateBucketMissingError extends StateError {
  constructor(bucket: string) {
    super(StateErrorCodes.bucketMissing, `the state bucket ${bucket} does not exist on this NATS server`, {
      hint: 'create it with `agentbus streams apply` (or ensureStateBucket() in code)',
      details: { bucket },
    });
  }
}

/** The backend could not be reached or failed in a way a retry may fix. */
export class StateBackendError extends StateError {
  constructor(backend: string, action: string, cause: unknown, hint: string, retryable = true) {
    super(StateErrorCodes.backendUnavailable, `${backend}: ${action} failed: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
      retryable,
      hint,
      details: { backend },
    });
  }
}

export class StateSigningKeyError extends StateError {
  constructor(message: string, hint: string) {
    super(StateErrorCodes.signingKey, message, { hint });
  }
}

/** `isStateError(error, code?)`: a StateError, of that code when one is named (errorGuard, as in every package). */
export const isStateError = errorGuard(StateError);

/** Lost the race for the next version number on every attempt (retryable). */
export const isStateConflict = errorGuard(StateConflictError);

/** No such document, or no such version of it. */
export const isStateNotFound = errorGuard(StateNotFoundError);

/** A record that fails verification (getVerified), or a history that cannot be trusted: never act on it. */
export const isStateIntegrityError = errorGuard(StateIntegrityError);
