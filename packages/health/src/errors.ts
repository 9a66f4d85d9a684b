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
  /**
   * No answer from Prometheus: connection refused or reset, a host that does not resolve, or no
   * answer within the section's timeoutMs. Retryable: Prometheus restarting is a passing state.
   */
  prometheusUnreachable: 'prometheus-unreachable',
  /**
   * Prometheus refused the query itself (HTTP 400/422, `bad_data` or `execution`: bad PromQL, a
   * bad parameter, an expression that cannot be executed), or it returned what no check can judge
   * (a range vector, a string, an answer too large to read). The message carries Prometheus' own
   * words; asking again gives the same answer, so not retryable: fix the check's query.
   */
  prometheusQueryFailed: 'prometheus-query-failed',
  /**
   * Prometheus (or what answers at its URL) failed on its side: HTTP 5xx, a 503 query timeout, or
   * an answer that is not the Prometheus API's JSON (a wrong URL, a proxy's error page). Retryable.
   */
  prometheusError: 'prometheus-error',
} as const;
export type HealthErrorCode = (typeof HealthErrorCodes)[keyof typeof HealthErrorCodes];

declare module '@agentbus/contracts' {
  interface AgentbusErrorCodeMaps {
    health: typeof HealthErrorCodes;
  }
}

/**
 * What @agentbus/health throws. A failing probe is not an error: it is data in the result
 * (ProbeResult.error); only a bad configuration or an abort throws. PrometheusClient.query throws
 * the `prometheus-*` codes; the metric checks turn them into inconclusive results, never a throw.
 */
export class HealthError extends AgentbusError {
  declare readonly code: HealthErrorCode;

  constructor(code: HealthErrorCode, message: string, options: AgentbusErrorOptions = {}) {
    super(code, message, options);
  }
}

export const isHealthError = errorGuard(HealthError);
