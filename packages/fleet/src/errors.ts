import { AgentbusError, errorGuard, type AgentbusErrorOptions } from '@agentbus/contracts';

export const FleetErrorCodes = {
  /** The configuration file does not exist or cannot be read. */
  configNotFound: 'config-not-found',
  /** The file is not JSON, or fails the schema; `details.problems` lists every problem with its field path. */
  configInvalid: 'config-invalid',
  /** No service of that name in the registry. */
  unknownService: 'unknown-service',
  /** The deploy command's program or working directory does not exist. */
  deployCommandNotFound: 'deploy-command-not-found',
  /** The deploy command exited non-zero or was killed by a signal; `details.result` has its output. */
  deployCommandFailed: 'deploy-command-failed',
  /** The production clone holds changes agentbus did not make (uncommitted, or local commits without its trailer): nothing is merged over them, nothing is discarded. */
  cloneDrifted: 'clone-drifted',
  /** The deploy command ran past its timeoutMs and was killed (with its process group). */
  deployCommandTimeout: 'deploy-command-timeout',
} as const;
export type FleetErrorCode = (typeof FleetErrorCodes)[keyof typeof FleetErrorCodes];

declare module '@agentbus/contracts' {
  interface AgentbusErrorCodeMaps {
    fleet: typeof FleetErrorCodes;
  }
}

export class FleetError extends AgentbusError {
  declare readonly code: FleetErrorCode;

  constructor(code: FleetErrorCode, message: string, options: AgentbusErrorOptions = {}) {
    super(code, message, options);
  }
}

export const isFleetError = errorGuard(FleetError);
