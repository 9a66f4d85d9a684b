import type { Baseline, MetricBaseline, MetricResult } from '@agentbus/contracts';
import type { FleetService } from './fleet-schema.ts';
import { metricsVerdict, PrometheusClient, runMetricChecks, runProbes, toCheckResults, type HealthReport, type PrometheusSection } from '@agentbus/health';

export type VerdictOutcome = 'passed' | 'failed' | 'inconclusive';

export interface Judgment {
  outcome: VerdictOutcome;
  /** The HTTP checks' run (evidence of the service's health). */
  report: HealthReport;
  metrics: MetricResult[];
  /** The fields every verdict carries (health.* and followup.*), but for the deployment's own. */
  fields: {
    baseline: Baseline | null;
    checks: ReturnType<typeof toCheckResults>;
    metrics: MetricResult[];
    startedAt: string;
    finishedAt: string;
    probeTimeoutMs: number;
    probeWaitMs: number;
  };
}

/**
 * One verdict on a service: its HTTP checks probed (p95 latency, consecutive failures), then its
 * metric checks evaluated through Prometheus against the deployment's metric baseline (after the
 * probes, so the queries' windows cover the time since the deploy). A failed fatal check of
 * either kind fails it; otherwise a fatal metric check that could not be judged makes it
 * inconclusive (never a pass, never by itself a revert).
 */
export async function judgeService(
  service: FleetService,
  prometheus: PrometheusSection | undefined,
  baselines: { baseline: Baseline | null; metricBaseline: MetricBaseline | undefined },
  options: { startedAt: string; signal: AbortSignal },
): Promise<Judgment> {
  const { health } = service;
  const report = await runProbes(health.checks, { probes: health.probes, intervalMs: health.probeIntervalMs, consecutiveFailures: Math.min(health.consecutiveFailures, health.probes), signal: options.signal });
  const metrics =
    health.metrics.length && prometheus
      ? await runMetricChecks(new PrometheusClient(prometheus), health.metrics, baselines.metricBaseline, { retries: prometheus.retries, retryIntervalMs: prometheus.retryIntervalMs, signal: options.signal })
      : [];
  const fromMetrics = metricsVerdict(metrics);
  const outcome: VerdictOutcome = !report.healthy || fromMetrics === 'failed' ? 'failed' : fromMetrics;
  return {
    outcome,
    report,
    metrics,
    fields: {
      baseline: baselines.baseline
        ? {
            healthy: baselines.baseline.healthy,
            checkedAt: baselines.baseline.checkedAt,
            checks: baselines.baseline.checks,
            ...(baselines.baseline.source ? { source: baselines.baseline.source } : {}),
            ...(baselines.baseline.deploymentId ? { deploymentId: baselines.baseline.deploymentId } : {}),
          }
        : null,
      checks: toCheckResults(report),
      metrics,
      startedAt: options.startedAt,
      finishedAt: new Date().toISOString(),
      probeTimeoutMs: report.timing.timedOutMs,
      probeWaitMs: report.timing.waitedMs,
    },
  };
}

/** "error-rate (0.5 > max 0.05), health (503)": what failed, for logs and summaries. */
export function failingSummary(judgment: Judgment): string {
  const http = judgment.fields.checks.filter((c) => !c.ok && c.severity === 'fatal').map((c) => `${c.name}: ${c.error ?? 'failed'}`);
  const metric = judgment.metrics.filter((m) => m.severity === 'fatal' && (m.outcome === 'failed' || m.outcome === 'inconclusive')).map((m) => m.reason ?? `${m.name}: ${m.outcome}`); // a reason names its check
  return [...http, ...metric].join('; ');
}
