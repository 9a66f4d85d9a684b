import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { compileChecks, type HealthCheck, type HealthCheckInput, type Severity } from './check.ts';
import { HealthError } from './errors.ts';
import { probeCompiled, type ProbeError, type ProbeResult } from './probe.ts';

export interface ProbeRunOptions {
  /** Probes per check. Default 3. */
  probes?: number;
  /** Pause between two rounds of probes (all checks are probed at once in a round). Default 1 000 ms. */
  intervalMs?: number;
  /** Consecutive failed probes that fail a check: one flaky probe is not a failure. Default 3; at most `probes`. */
  consecutiveFailures?: number;
  /** Stop as soon as a fatal check has failed: the verdict can no longer change. Default true. */
  stopEarly?: boolean;
  /** Aborting rejects the run with HealthError `probe-aborted`. */
  signal?: AbortSignal;
}

export const CheckOutcomes = {
  passed: 'passed',
  /** A fatal check that failed: the run is unhealthy. */
  failed: 'failed',
  /** A warning check that would have failed: reported, the run stays healthy. */
  warned: 'warned',
} as const;
export type CheckOutcome = (typeof CheckOutcomes)[keyof typeof CheckOutcomes];

/** How one check did over a run, with everything a post-mortem or an operator needs to see. */
export interface CheckVerdict {
  name: string;
  url: string;
  severity: Severity;
  outcome: CheckOutcome;
  /** Why it failed or warned, one sentence each; empty when passed. */
  reasons: string[];
  /** The HTTP status of the last probe (null: no answer). */
  status: number | null;
  /** The status a healthy answer has (the check's expectStatus). */
  expectStatus: number;
  /** The error of the last failed probe (null: no probe failed). */
  error: ProbeError | null;
  latency: {
    /** Nearest-rank p95 over the probes that got an answer; null when none did. */
    p95Ms: number | null;
    /** The threshold p95 was judged against; null: latency not judged. */
    thresholdMs: number | null;
    /** Each probe's latency, in order. */
    probesMs: number[];
  };
  failures: { total: number; maxConsecutive: number; threshold: number };
  probes: ProbeResult[];
}

/** The result of a probe run: the verdict and where the time went. */
export interface HealthReport {
  /** False when a fatal check failed. Warnings never make a run unhealthy. */
  healthy: boolean;
  /** Names of fatal checks that failed. */
  failedChecks: string[];
  /** Names of warning checks that would have failed. */
  warnedChecks: string[];
  checks: CheckVerdict[];
  rounds: { planned: number; run: number; stoppedEarly: boolean };
  startedAt: string;
  /**
   * `waitedMs`: pauses between rounds (configured waits). `timedOutMs`: time spent waiting for
   * probes that timed out (per round, the longest such probe). What is left of `totalMs` is
   * probing and the services' answers.
   */
  timing: { totalMs: number; waitedMs: number; timedOutMs: number };
}

interface RunSettings {
  probes: number;
  intervalMs: number;
  consecutiveFailures: number;
  stopEarly: boolean;
  signal: AbortSignal | undefined;
}

/**
 * Probes every check `probes` times, `intervalMs` apart, and judges each: a fatal check fails
 * after `consecutiveFailures` consecutive failed probes or when its p95 latency is over its
 * threshold; a warning check is judged the same way but only `warned`. Never throws for a
 * failing service; throws HealthError `invalid-check` for bad checks or options, and
 * `probe-aborted` when `signal` aborts.
 */
export async function runProbes(checks: readonly HealthCheckInput[], options: ProbeRunOptions = {}): Promise<HealthReport> {
  const settings = compileRunOptions(options);
  const compiled = compileChecks(checks);
  const startedAt = new Date().toISOString();
  const started = performance.now();
  const probesByCheck: ProbeResult[][] = compiled.map(() => []);
  let waitedMs = 0;
  let timedOutMs = 0;
  let round = 0;
  let stoppedEarly = false;

  while (round < settings.probes) {
    throwIfAborted(settings.signal);
    if (round > 0) waitedMs += await pause(settings.intervalMs, settings.signal);
    const results = await Promise.all(compiled.map((check) => probeCompiled(check)));
    results.forEach((probe, index) => probesByCheck[index]?.push(probe));
    timedOutMs += Math.max(0, ...results.filter((probe) => probe.timedOut).map((probe) => probe.latencyMs));
    round++;
    const decided = compiled.some((check, index) => check.severity === 'fatal' && maxConsecutiveFailures(probesByCheck[index] ?? []) >= settings.consecutiveFailures);
    if (decided && settings.stopEarly && round < settings.probes) {
      stoppedEarly = true;
      break;
    }
  }

  return {
    ...judgeRun(compiled, probesByCheck, settings.consecutiveFailures),
    rounds: { planned: settings.probes, run: round, stoppedEarly },
    startedAt,
    timing: { totalMs: Math.round(performance.now() - started), waitedMs: Math.round(waitedMs), timedOutMs: Math.round(timedOutMs) },
  };
}

/**
 * The verdict of a run from each check's probes (`probesByCheck[i]` are the probes of
 * `checks[i]`, in order): a check fails after `consecutiveFailures` consecutive failed probes or
 * when its p95 latency (over the probes that got an answer) is over its threshold; such a fatal
 * check is `failed` and makes the run unhealthy, such a warning check is only `warned`.
 */
export function judgeRun(checks: readonly HealthCheck[], probesByCheck: readonly ProbeResult[][], consecutiveFailures: number): Pick<HealthReport, 'healthy' | 'failedChecks' | 'warnedChecks' | 'checks'> {
  const verdicts = checks.map((check, index) => judgeCheck(check, probesByCheck[index] ?? [], consecutiveFailures));
  return {
    healthy: verdicts.every((verdict) => verdict.outcome !== 'failed'),
    failedChecks: verdicts.filter((verdict) => verdict.outcome === 'failed').map((verdict) => verdict.name),
    warnedChecks: verdicts.filter((verdict) => verdict.outcome === 'warned').map((verdict) => verdict.name),
    checks: verdicts,
  };
}

/** Nearest-rank percentile (p in 0..100) of `values`; null for none. p95 of 3 values is the largest. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? null;
}

function judgeCheck(check: HealthCheck, probes: ProbeResult[], consecutiveFailures: number): CheckVerdict {
  const reasons: string[] = [];
  const failed = probes.filter((probe) => !probe.ok);
  const lastError = failed.at(-1)?.error ?? null;
  const maxConsecutive = maxConsecutiveFailures(probes);
  if (maxConsecutive >= consecutiveFailures) {
    reasons.push(`${maxConsecutive} consecutive failed probes (threshold ${consecutiveFailures}): ${lastError?.message ?? 'failed'}`);
  }
  const answered = probes.filter((probe) => probe.status !== null).map((probe) => probe.latencyMs);
  const p95Ms = percentile(answered, 95);
  const thresholdMs = check.latencyThresholdMs ?? null;
  if (p95Ms !== null && thresholdMs !== null && p95Ms > thresholdMs) {
    reasons.push(`p95 latency ${Math.round(p95Ms)} ms over the ${thresholdMs} ms threshold`);
  }
  const outcome: CheckOutcome = reasons.length === 0 ? 'passed' : check.severity === 'fatal' ? 'failed' : 'warned';
  return {
    name: check.name,
    url: check.url,
    severity: check.severity,
    outcome,
    reasons,
    status: probes.at(-1)?.status ?? null,
    expectStatus: check.expectStatus,
    error: lastError,
    latency: { p95Ms, thresholdMs, probesMs: probes.map((probe) => probe.latencyMs) },
    failures: { total: failed.length, maxConsecutive, threshold: consecutiveFailures },
    probes,
  };
}

function maxConsecutiveFailures(probes: readonly ProbeResult[]): number {
  let longest = 0;
  let current = 0;
  for (const probe of probes) {
    current = probe.ok ? 0 : current + 1;
    longest = Math.max(longest, current);
  }
  return longest;
}

function compileRunOptions(options: ProbeRunOptions): RunSettings {
  const probes = options.probes ?? 3;
  const intervalMs = options.intervalMs ?? 1_000;
  const consecutiveFailures = options.consecutiveFailures ?? Math.min(3, probes);
  const problems: string[] = [];
  if (!Number.isInteger(probes) || probes < 1) problems.push(`probes: expected a whole number of at least 1, got ${probes}`);
  if (!Number.isFinite(intervalMs) || intervalMs < 0) problems.push(`intervalMs: expected 0 or more, got ${intervalMs}`);
  if (!Number.isInteger(consecutiveFailures) || consecutiveFailures < 1) problems.push(`consecutiveFailures: expected a whole number of at least 1, got ${consecutiveFailures}`);
  else if (consecutiveFailures > probes) problems.push(`consecutiveFailures: ${consecutiveFailures} is more than probes (${probes}), so no check could ever fail`);
  if (problems.length) {
    throw new HealthError('invalid-check', `invalid probe run options: ${problems.join('; ')}`, { hint: 'probes ≥ consecutiveFailures ≥ 1, intervalMs ≥ 0' });
  }
  return { probes, intervalMs, consecutiveFailures, stopEarly: options.stopEarly ?? true, signal: options.signal };
}

/** Sleeps `ms` (abortable) and returns how long it really slept. */
export async function pause(ms: number, signal: AbortSignal | undefined): Promise<number> {
  const started = performance.now();
  try {
    await sleep(ms, undefined, signal ? { signal } : undefined);
  } catch (error) {
    throwIfAborted(signal);
    throw error;
  }
  return performance.now() - started;
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new HealthError('probe-aborted', 'the probe run was stopped before it finished', {
      hint: 'the service is shutting down; the run is repeated when the message is redelivered',
      retryable: true,
      cause: signal.reason,
    });
  }
}
