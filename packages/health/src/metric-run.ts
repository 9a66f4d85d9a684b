import { safeLine, safeText, type MetricBaseline, type MetricOutcome, type MetricResult } from '@agentbus/contracts';
import { isHealthError } from './errors.ts';
import type { MetricCheck } from './metric-check.ts';
import type { PrometheusAnswer, PrometheusClient, PrometheusSeries } from './prometheus.ts';
import { pause, throwIfAborted } from './probe-run.ts';

type Labels = Record<string, string>;

/** One check's entry in a MetricBaseline. */
export type MetricBaselineValue = MetricBaseline['values'][number];

/**
 * What one query of a check gave, for judgeMetric:
 * - `values`: the numbers a threshold check judges (one per series returned; it needs exactly one);
 * - `series`: the label sets a newSeries check judges;
 * - `no-data`: an empty answer;
 * - `error`: no answer to judge (`retryable: false` for a query Prometheus refused: asking again gives the same).
 */
export type MetricMeasurement =
  | { kind: 'values'; values: number[] }
  | { kind: 'series'; series: Labels[] }
  | { kind: 'no-data' }
  | { kind: 'error'; reason: string; retryable: boolean };

export interface MetricJudgeContext {
  /** Queries made for this result (an inconclusive one is retried). */
  attempts: number;
  /** When the value judged was evaluated. */
  evaluatedAt: Date | string;
}

const isThresholdCheck = (check: MetricCheck) => !check.newSeries;

/** A check's answer as judgeMetric takes it: values for a threshold check, label sets for a newSeries check. */
export function measurementOf(check: MetricCheck, answer: PrometheusAnswer): MetricMeasurement {
  if (answer.series.length === 0) return { kind: 'no-data' };
  return isThresholdCheck(check) ? { kind: 'values', values: answer.series.map((series) => series.value) } : { kind: 'series', series: answer.series.map((series) => series.labels) };
}

/**
 * Judges one measurement of a check against its limits and its value before the deploy. Pure.
 *
 * A threshold or baseline check needs exactly one finite number: several series, NaN, ±Inf or
 * no data (unless `noData: 'pass'`) are inconclusive. Past `max`/`min` fails, unless the baseline
 * was past that same limit too: then it is `preexisting`, or failed if it also rose past the
 * baseline rule. The baseline rule (`maxRatio`, `maxIncrease`, with both only past both) needs a
 * baseline value: without one a baseline-only check is inconclusive, one with limits is judged on
 * them. A newSeries check fails on a label set present now and absent before (no series now: it
 * passes; series now but no baseline: inconclusive).
 */
export function judgeMetric(check: MetricCheck, measurement: MetricMeasurement, baseline: MetricBaselineValue | undefined, context: MetricJudgeContext): MetricResult {
  const baselineValue = baseline && baseline.error === null ? baseline.value : null;
  const result = (outcome: MetricOutcome, value: number | null, reason: string | null, newSeries?: Labels[]): MetricResult => ({
    name: check.name,
    query: safeText(check.query, { max: 4_000 }),
    severity: check.severity,
    outcome,
    value,
    baselineValue,
    max: check.max ?? null,
    min: check.min ?? null,
    maxRatio: check.baseline?.maxRatio ?? null,
    maxIncrease: check.baseline?.maxIncrease ?? null,
    ...(newSeries ? { newSeries } : {}),
    attempts: context.attempts,
    evaluatedAt: typeof context.evaluatedAt === 'string' ? context.evaluatedAt : context.evaluatedAt.toISOString(),
    reason: reason === null ? null : safeText(reason, { max: 2_000 }),
  });

  if (measurement.kind === 'error') return result('inconclusive', null, `${check.name}: ${measurement.reason}`);
  if (check.newSeries) return judgeNewSeries(check, measurement, baseline, result);

  if (measurement.kind === 'no-data') {
    return check.noData === 'pass' ? result('passed', null, null) : result('inconclusive', null, `${check.name}: no data (the query returned no series); set noData: 'pass' if an empty answer is fine`);
  }
  if (measurement.kind === 'series' || measurement.values.length !== 1) {
    const count = measurement.kind === 'series' ? measurement.series.length : measurement.values.length;
    return result('inconclusive', null, `${check.name}: the query returned ${count} series: aggregate it to one number, e.g. sum(...) or max(...)`);
  }
  const value = measurement.values[0] as number;
  if (Number.isNaN(value)) return result('inconclusive', null, `${check.name}: the value is NaN (typically 0/0: no traffic in the query's window)`);
  if (!Number.isFinite(value)) return result('inconclusive', null, `${check.name}: the value is ${value > 0 ? '+Inf' : '-Inf'} (a division by zero?)`);

  const limit = brokenLimit(check, value);
  const rule = baselineRule(check, value, baselineValue);
  const then = baselineValue === null ? 'unknown' : formatNumber(baselineValue);
  const before = baselineValue === null ? '' : `; before the deploy ${then}${rule ? ` (${rule.text})` : ''}`;

  if (limit) {
    const alsoBefore = baselineValue !== null && brokenLimit(check, baselineValue)?.name === limit.name;
    if (!alsoBefore || rule?.broken) return result('failed', value, `${check.name} ${limit.text}${before}`);
    return result('preexisting', value, `${check.name} ${limit.text}, but it was ${then} before the deploy, past the same limit${rule ? `, and did not rise past its baseline rule (${rule.text})` : ''}: not this deployment's doing`);
  }
  if (rule?.broken) return result('failed', value, `${check.name} ${formatNumber(value)} rose past its baseline: before the deploy ${then} (${rule.text})`);
  if (check.baseline && baselineValue === null && check.max === undefined && check.min === undefined) {
    const why = baseline?.error ? `: ${baseline.error}` : baseline ? ' (the query had no single number then)' : '';
    return result('inconclusive', value, `${check.name} ${formatNumber(value)}: no baseline from before the deploy to compare with${why}`);
  }
  return result('passed', value, null);
}

function judgeNewSeries(
  check: MetricCheck,
  measurement: Exclude<MetricMeasurement, { kind: 'error' }>,
  baseline: MetricBaselineValue | undefined,
  result: (outcome: MetricOutcome, value: number | null, reason: string | null, newSeries?: Labels[]) => MetricResult,
): MetricResult {
  if (measurement.kind === 'no-data') return result('passed', null, null, []);
  if (measurement.kind === 'values') return result('inconclusive', null, `${check.name}: a newSeries check judges label sets, and got values only`);
  if (!baseline || baseline.error !== null) {
    return result('inconclusive', null, `${check.name}: no baseline from before the deploy, so no telling which of the ${measurement.series.length} series are new${baseline?.error ? `: ${baseline.error}` : ''}`);
  }
  const before = new Set(baseline.series.map(labelKey));
  const seen = new Set<string>();
  const fresh: Labels[] = [];
  for (const labels of measurement.series) {
    const key = labelKey(labels);
    if (before.has(key) || seen.has(key)) continue;
    seen.add(key);
    fresh.push(sortedLabels(labels));
  }
  fresh.sort((a, b) => compare(labelKey(a), labelKey(b)));
  if (fresh.length === 0) return result('passed', null, null, []);
  const shown = fresh.slice(0, 20).map(formatLabels).join(', ');
  return result('failed', null, `${check.name}: ${fresh.length} series absent before the deploy: ${shown}${fresh.length > 20 ? `, … (${fresh.length - 20} more)` : ''}`, fresh);
}

/** The first of max, min that `value` is past, with a sentence part naming both. */
function brokenLimit(check: MetricCheck, value: number): { name: 'max' | 'min'; text: string } | undefined {
  if (check.max !== undefined && value > check.max) return { name: 'max', text: `${formatNumber(value)} > max ${formatNumber(check.max)}` };
  if (check.min !== undefined && value < check.min) return { name: 'min', text: `${formatNumber(value)} < min ${formatNumber(check.min)}` };
  return undefined;
}

/** The baseline rule against `value`: broken with only maxRatio or only maxIncrease when past it, with both only when past both. */
function baselineRule(check: MetricCheck, value: number, baselineValue: number | null): { broken: boolean; text: string } | undefined {
  if (!check.baseline || baselineValue === null) return undefined;
  const { maxRatio, maxIncrease } = check.baseline;
  const parts: string[] = [];
  const verdicts: boolean[] = [];
  if (maxRatio !== undefined) {
    const past = value > baselineValue * maxRatio;
    verdicts.push(past);
    const ratio = baselineValue > 0 ? `${formatNumber(value / baselineValue)}×` : value > 0 ? 'from 0' : `${formatNumber(value)}`;
    parts.push(`ratio ${ratio} ${past ? '>' : '≤'} ${formatNumber(maxRatio)}×`);
  }
  if (maxIncrease !== undefined) {
    const past = value > baselineValue + maxIncrease;
    verdicts.push(past);
    const increase = value - baselineValue;
    parts.push(`increase ${increase >= 0 ? '+' : ''}${formatNumber(increase)} ${past ? '>' : '≤'} +${formatNumber(maxIncrease)}`);
  }
  return { broken: verdicts.length > 0 && verdicts.every(Boolean), text: parts.join(', ') };
}

/**
 * Up to 4 significant digits (whole numbers as they are): 0.30000000000000004 reads 0.3, and the
 * same number is written the same way in every reason.
 */
export function formatNumber(value: number): string {
  if (Number.isInteger(value) || !Number.isFinite(value)) return String(value);
  return String(Number(value.toPrecision(4)));
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const sortedLabels = (labels: Labels): Labels => Object.fromEntries(Object.entries(labels).sort(([a], [b]) => compare(a, b)));
/** The same label set gives the same key, whatever the order of its labels. */
const labelKey = (labels: Labels): string => JSON.stringify(Object.entries(labels).sort(([a], [b]) => compare(a, b)));
const formatLabels = (labels: Labels): string => `{${Object.entries(sortedLabels(labels)).map(([name, value]) => `${name}=${JSON.stringify(value)}`).join(', ')}}`;

/** A failed query as a measurement; an abort is not a measurement and is thrown on. */
function failedMeasurement(error: unknown): MetricMeasurement {
  if (isHealthError(error) && error.code === 'probe-aborted') throw error;
  const retryable = !(isHealthError(error) && error.code === 'prometheus-query-failed');
  const message = error instanceof Error ? error.message : String(error);
  const hint = isHealthError(error) && error.hint && !retryable ? ` (${error.hint})` : '';
  return { kind: 'error', reason: safeLine(`${message}${hint}`, 1_500), retryable };
}

/** One check's query at `at`, as a baseline entry. Never throws (but for an abort). */
async function baselineValueOf(client: PrometheusClient, check: MetricCheck, at: Date, signal?: AbortSignal): Promise<MetricBaselineValue> {
  const entry = { name: check.name, query: safeText(check.query, { max: 4_000 }) };
  let answer: PrometheusAnswer;
  try {
    answer = await client.query(check.query, { at, ...(signal ? { signal } : {}) });
  } catch (error) {
    const measurement = failedMeasurement(error);
    return { ...entry, value: null, series: [], error: measurement.kind === 'error' ? measurement.reason : null };
  }
  const only: PrometheusSeries | undefined = answer.series.length === 1 ? answer.series[0] : undefined;
  const value = isThresholdCheck(check) && only && Number.isFinite(only.value) ? only.value : null;
  return { ...entry, value, series: answer.series.map((series) => sortedLabels(series.labels)), error: null };
}

/**
 * The checks' values just before a deploy: one instant query per check at `at`, all at once.
 * Never throws: a failed query is recorded in that value's `error` (series [] and value null),
 * and runMetricChecks asks again for the query at `capturedAt`. `value` is the single finite
 * number of a threshold check (null otherwise); `series` is always recorded.
 */
export async function captureMetricBaseline(client: PrometheusClient, checks: readonly MetricCheck[], at: Date = new Date()): Promise<MetricBaseline> {
  const values = await Promise.all(checks.map((check) => baselineValueOf(client, check, at)));
  return { capturedAt: at.toISOString(), values };
}

export interface MetricRunOptions {
  /** An inconclusive measurement is asked again this many times (the section's `retries`). */
  retries: number;
  /** Pause before each retry (the section's `retryIntervalMs`). */
  retryIntervalMs: number;
  /** Aborting rejects the run with HealthError `probe-aborted`. */
  signal?: AbortSignal;
  /** The clock: each query is evaluated at now() (and `evaluatedAt` says so). Default: the system clock. */
  now?: () => Date;
}

/**
 * Measures and judges every check (all at once; results in check order). An inconclusive
 * measurement is asked again up to `retries` times, `retryIntervalMs` apart, then reported with
 * its attempts; a query Prometheus refused (bad PromQL) is reported at once. A baseline entry
 * that is missing, has an `error`, or was captured for another query is asked again at
 * `baseline.capturedAt` (on every attempt until it is had) before judging. Never throws for
 * Prometheus' failures; throws HealthError `probe-aborted` when `signal` aborts.
 */
export async function runMetricChecks(client: PrometheusClient, checks: readonly MetricCheck[], baseline: MetricBaseline | undefined, options: MetricRunOptions): Promise<MetricResult[]> {
  return Promise.all(checks.map((check) => runMetricCheck(client, check, baseline, options)));
}

async function runMetricCheck(client: PrometheusClient, check: MetricCheck, baseline: MetricBaseline | undefined, options: MetricRunOptions): Promise<MetricResult> {
  const now = options.now ?? (() => new Date());
  const signal = options.signal;
  const query = safeText(check.query, { max: 4_000 });
  let before = baseline?.values.find((entry) => entry.name === check.name && entry.query === query);
  const refetch = () => baseline !== undefined && (before === undefined || before.error !== null);

  for (let attempt = 1; ; attempt++) {
    throwIfAborted(signal);
    if (attempt > 1) await pause(options.retryIntervalMs, signal);
    if (baseline && refetch()) before = await baselineValueOf(client, check, new Date(baseline.capturedAt), signal);
    const evaluatedAt = now();
    let measurement: MetricMeasurement;
    try {
      measurement = measurementOf(check, await client.query(check.query, { at: evaluatedAt, ...(signal ? { signal } : {}) }));
    } catch (error) {
      measurement = failedMeasurement(error);
    }
    const result = judgeMetric(check, measurement, before, { attempts: attempt, evaluatedAt });
    const final = result.outcome !== 'inconclusive' || attempt > options.retries || (measurement.kind === 'error' && !measurement.retryable);
    if (final) return result;
  }
}

/**
 * The metric checks' verdict from the fatal ones: failed if one failed, else inconclusive if one
 * was, else passed (preexisting counts as passed; warnings never decide).
 */
export function metricsVerdict(results: readonly MetricResult[]): 'passed' | 'failed' | 'inconclusive' {
  const fatal = results.filter((result) => result.severity === 'fatal');
  if (fatal.some((result) => result.outcome === 'failed')) return 'failed';
  if (fatal.some((result) => result.outcome === 'inconclusive')) return 'inconclusive';
  return 'passed';
}
