import { AgentbusError, errorGuard, type AgentbusErrorOptions } from '@agentbus/contracts';

export const HealthErrorCodes = {
  /** A health check or probe option is not valid (the message names every bad field). */
  invalidCheck: 'invalid-check',
  /** The run was stopped through its AbortSignal (a service draining): run it again later. */
  probeAborted: 'probe-aborted',
  /** The health evidence bucket does not exist (`agentbus streams apply`). */
  evidenceBucketMissing: 'evidence-bucket-missing',
  /** The follow-ups bucket does not exist (`agentbus streams apply`). */
  followupsBucketMissing: 'followups-bucket-missing',
  /** A service name the evidence store cannot key. */
  invalidService: 'invalid-service',
} as const;
export type HealthErrorCode = (typeof HealthErrorCodes)[keyof typeof HealthErrorCodes];

declare module '@agentbus/contracts' {
  interface AgentbusErrorCodeMaps {
    health: typeof HealthErrorCodes;
  }
}

/**
 * What @agentbus/health throws. A failing probe is not an error: it is data in the result
 * (ProbeResult.error); only a bad configuration or an abort throws.
 */
export class HealthError extends AgentbusError {
  declare readonly code: HealthErrorCode;

  constructor(code: HealthErrorCode, message: string, options: AgentbusErrorOptions = {}) {
    super(code, message, options);
  }
}

export const isHealthError = errorGuard(HealthError);
