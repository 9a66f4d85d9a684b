import type { HealthCheckInput } from './check.ts';
import { runProbes, type HealthReport } from './probe-run.ts';

export interface BaselineOptions {
  /** Probes per check. Default 3. */
  probes?: number;
  /** Default 250 ms. */
  intervalMs?: number;
  signal?: AbortSignal;
}

/** The service's health before a deploy: what a later failure is compared with. */
export interface HealthBaseline {
  /** False when a fatal check failed every baseline probe: the service was already down or broken. */
  healthy: boolean;
  /** Fatal checks that failed every probe. */
  failingChecks: string[];
  takenAt: string;
  report: HealthReport;
}

/**
 * Probes the checks before a deploy. A fatal check counts as already failing only when every
 * baseline probe of it failed, so a flaky probe does not mark a healthy service unhealthy (which
 * would wrongly stop a later rollback). Latency over threshold counts too. Never throws for a
 * failing service.
 */
export async function probeBaseline(checks: readonly HealthCheckInput[], options: BaselineOptions = {}): Promise<HealthBaseline> {
  const probes = options.probes ?? 3;
  const report = await runProbes(checks, { probes, intervalMs: options.intervalMs ?? 250, consecutiveFailures: probes, stopEarly: false, signal: options.signal });
  return { healthy: report.healthy, failingChecks: report.failedChecks, takenAt: report.startedAt, report };
}
