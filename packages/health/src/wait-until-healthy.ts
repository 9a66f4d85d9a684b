import { performance } from 'node:perf_hooks';
import { compileChecks, type HealthCheckInput } from './check.ts';
import { HealthError } from './errors.ts';
import { probeCompiled, type ProbeResult } from './probe.ts';
import { pause, throwIfAborted } from './probe-run.ts';

export interface WaitUntilHealthyOptions {
  /** Give up after this long (the last round starts before it). Default 60 000 ms. */
  timeoutMs?: number;
  /** Pause between rounds. Default 500 ms. */
  intervalMs?: number;
  /** Rounds in a row in which every fatal check must pass. Default 1. */
  successesRequired?: number;
  signal?: AbortSignal;
}

export interface WaitUntilHealthyResult {
  healthy: boolean;
  /** Rounds probed. */
  attempts: number;
  /** From the first probe to the verdict. */
  elapsedMs: number;
  /** Pauses between rounds, and time spent waiting for probes that timed out (as in HealthReport.timing). */
  waitedMs: number;
  timedOutMs: number;
  /** Fatal checks that failed in the last round (empty when healthy). */
  failingChecks: string[];
  /** Every check's probe of the last round. */
  lastProbes: ProbeResult[];
}

/**
 * Re-probes until every fatal check answers correctly (status and JSON fields) in
 * `successesRequired` rounds in a row, or until `timeoutMs`: for "is it back?" after a rollback.
 * Latency is not judged here (one probe is not a p95); warning checks are probed and returned
 * but never waited for. Resolves `healthy: false` at the deadline; never throws for a failing
 * service (HealthError `invalid-check`, `probe-aborted` only).
 */
export async function waitUntilHealthy(checks: readonly HealthCheckInput[], options: WaitUntilHealthyOptions = {}): Promise<WaitUntilHealthyResult> {
  const compiled = compileChecks(checks);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const intervalMs = options.intervalMs ?? 500;
  const successesRequired = options.successesRequired ?? 1;
  if (!(timeoutMs >= 0) || !(intervalMs >= 0) || !Number.isInteger(successesRequired) || successesRequired < 1) {
    throw new HealthError('invalid-check', `invalid wait options: timeoutMs ${timeoutMs}, intervalMs ${intervalMs}, successesRequired ${successesRequired}`, {
      hint: 'timeoutMs and intervalMs are 0 or more; successesRequired is a whole number of at least 1',
    });
  }
  const started = performance.now();
  const deadline = started + timeoutMs;
  let attempts = 0;
  let successes = 0;
  let waitedMs = 0;
  let timedOutMs = 0;
  for (;;) {
    throwIfAborted(options.signal);
    const lastProbes = await Promise.all(compiled.map((check) => probeCompiled(check)));
    attempts++;
    timedOutMs += Math.max(0, ...lastProbes.filter((probe) => probe.timedOut).map((probe) => probe.latencyMs));
    const failingChecks = lastProbes.filter((probe, index) => !probe.ok && compiled[index]?.severity === 'fatal').map((probe) => probe.check);
    successes = failingChecks.length === 0 ? successes + 1 : 0;
    const remaining = deadline - performance.now();
    if (successes >= successesRequired || remaining <= 0) {
      return {
        healthy: successes >= successesRequired,
        attempts,
        elapsedMs: Math.round(performance.now() - started),
        waitedMs: Math.round(waitedMs),
        timedOutMs: Math.round(timedOutMs),
        failingChecks,
        lastProbes,
      };
    }
    waitedMs += await pause(Math.min(intervalMs, remaining), options.signal);
  }
}
