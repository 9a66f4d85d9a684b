import { safeText } from './safe-text.ts';

/**
 * The error codes of @agentbus/contracts itself (message validation). Every package that throws
 * AgentbusErrors registers its own const map of codes in AgentbusErrorCodeMaps.
 */
export const ContractsErrorCodes = {
  /** A message type that no registry knows. */
  unknownType: 'unknown-type',
  /** Message data that fails its type's schema. */
  invalidData: 'invalid-data',
  /** An envelope that is not an agentbus envelope. */
  invalidEnvelope: 'invalid-envelope',
  /** A body that is not JSON. */
  malformedJson: 'malformed-json',
} as const;

/**
 * The registered code maps, one per package (or service) that throws AgentbusErrors. A package
 * registers its map by declaration merging, beside the map:
 *
 *     declare module '@agentbus/contracts' {
 *       interface AgentbusErrorCodeMaps { git: typeof GitErrorCodes }
 *     }
 *
 * so that AgentbusErrorCode is the union of every registered code and a code in no map does not
 * compile.
 */
export interface AgentbusErrorCodeMaps {
  contracts: typeof ContractsErrorCodes;
}

/** Every registered error code (see AgentbusErrorCodeMaps). */
export type AgentbusErrorCode = { [P in keyof AgentbusErrorCodeMaps]: AgentbusErrorCodeMaps[P][keyof AgentbusErrorCodeMaps[P]] }[keyof AgentbusErrorCodeMaps];

/**
 * The one error shape of agentbus. Every failure a user or another package can see is an
 * AgentbusError with a stable `code` (code never matches on message text), whether a retry
 * can help (`retryable`), the underlying `cause`, and a `hint` that says what to do next.
 */
export interface AgentbusErrorOptions {
  cause?: unknown;
  hint?: string;
  retryable?: boolean;
  details?: Record<string, unknown>;
}

export class AgentbusError extends Error {
  readonly code: AgentbusErrorCode;
  readonly retryable: boolean;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown>;

  constructor(code: AgentbusErrorCode, message: string, options: AgentbusErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.hint = options.hint;
    this.details = options.details ?? {};
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      retryable: this.retryable,
      ...(Object.keys(this.details).length ? { details: this.details } : {}),
      ...(this.cause instanceof Error ? { cause: this.cause.message } : {}),
    };
  }
}

export function isAgentbusError(error: unknown): error is AgentbusError {
  return error instanceof AgentbusError;
}

/**
 * The `isXxxError(error, code?)` guard of an error class: true for an instance of it, and of the
 * given code when one is named. Each package's typed errors get theirs from here.
 */
export function errorGuard<E extends AgentbusError>(errorClass: abstract new (...args: never[]) => E): (error: unknown, code?: E['code']) => error is E {
  return (error: unknown, code?: E['code']): error is E => error instanceof errorClass && (code === undefined || error.code === code);
}

/**
 * The one retryability predicate: whether a failure is worth another attempt (a handler's
 * redelivery, a step's retry). An AgentbusError says so itself (`retryable`); anything else (a
 * plain Error, a network fault from a library) is assumed transient.
 */
export function isRetryableFailure(error: unknown): boolean {
  return isAgentbusError(error) ? error.retryable : true;
}

/**
 * The message of any thrown value, including the chain of causes, for logs, events and dead
 * letters. Error messages often quote outside text (a command's stderr, a server's answer), so
 * the result is made safe and bounded (safeText, DEFAULT_SAFE_TEXT_MAX) once, here.
 */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    parts.push(current instanceof Error ? current.message : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return safeText(parts.join(': caused by: '));
}
