import type { CheckResult } from '@agentbus/contracts';
import type { HealthReport } from './probe-run.ts';

/**
 * A probe run as the bus carries it (health.passed/failed, rollback.completed): one entry per
 * check with its status, p95 latency against its threshold, failures and why it failed.
 */
export function toCheckResults(report: HealthReport): CheckResult[] {
  return report.checks.map((verdict) => ({
    name: verdict.name,
    url: verdict.url,
    severity: verdict.severity,
    ok: verdict.outcome === 'passed',
    probes: verdict.probes.length,
    failures: verdict.failures.total,
    maxConsecutiveFailures: verdict.failures.maxConsecutive,
    failureThreshold: verdict.failures.threshold,
    lastStatus: verdict.status,
    expectedStatus: verdict.expectStatus,
    latencyP95Ms: verdict.latency.p95Ms === null ? null : Math.round(verdict.latency.p95Ms * 10) / 10,
    latencyThresholdMs: verdict.latency.thresholdMs,
    latenciesMs: verdict.latency.probesMs.map((ms) => Math.round(ms * 10) / 10),
    error: verdict.reasons.length ? verdict.reasons.join('; ') : verdict.error?.message ?? null,
  }));
}
