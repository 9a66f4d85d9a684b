import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metricResultSchema } from '@agentbus/contracts';
import { judgeMetric, metricCheckSchema, metricsVerdict, type MetricBaselineValue, type MetricCheckInput, type MetricMeasurement } from '@agentbus/health';

const at = '2026-12-01T12:00:00.000Z';
const context = { attempts: 1, evaluatedAt: new Date(at) };
const check = (extra: Partial<MetricCheckInput>) => metricCheckSchema.parse({ name: 'error-rate', query: 'sum(rate(errors_total[1m])) / sum(rate(requests_total[1m]))', ...extra });
const one = (value: number): MetricMeasurement => ({ kind: 'values', values: [value] });
const before = (value: number | null, extra: Partial<MetricBaselineValue> = {}): MetricBaselineValue => ({ name: 'error-rate', query: 'q', value, series: [], error: null, ...extra });

function judge(...args: Parameters<typeof judgeMetric>) {
  const result = judgeMetric(...args);
  metricResultSchema.parse(result);
  return result;
}

test('absolute limits: over max and under min fail with the numbers; within them passes with reason null', () => {
  const limits = check({ max: 0.05, min: 0.01 });
  const over = judge(limits, one(0.5), undefined, context);
  assert.equal(over.outcome, 'failed');
  assert.equal(over.value, 0.5);
  assert.equal(over.reason, 'error-rate 0.5 > max 0.05');
  const under = judge(limits, one(0.001), undefined, context);
  assert.equal(under.outcome, 'failed');
  assert.equal(under.reason, 'error-rate 0.001 < min 0.01');
  const within = judge(limits, one(0.02), undefined, context);
  assert.equal(within.outcome, 'passed');
  assert.equal(within.reason, null);
  assert.deepEqual([within.max, within.min, within.maxRatio, within.maxIncrease, within.baselineValue], [0.05, 0.01, null, null, null]);
  assert.equal(within.evaluatedAt, at);
  assert.equal(within.severity, 'fatal');
});

test('over max and over it before the deploy too: preexisting; unless the baseline rule is also broken: failed', () => {
  const preexisting = judge(check({ max: 0.05 }), one(0.3), before(0.3), context);
  assert.equal(preexisting.outcome, 'preexisting');
  assert.equal(preexisting.baselineValue, 0.3);
  assert.match(preexisting.reason ?? '', /0\.3 > max 0\.05, but it was 0\.3 before the deploy/);

  const rule = check({ max: 0.05, baseline: { maxRatio: 2 } });
  const steady = judge(rule, one(0.35), before(0.3), context);
  assert.equal(steady.outcome, 'preexisting');
  assert.match(steady.reason ?? '', /ratio 1\.167× ≤ 2×/);
  const risen = judge(rule, one(0.9), before(0.3), context);
  assert.equal(risen.outcome, 'failed');
  assert.equal(risen.reason, 'error-rate 0.9 > max 0.05; before the deploy 0.3 (ratio 3× > 2×)');

  // Past max now, but within it before: this deployment's doing, whatever the baseline rule says.
  const fresh = judge(rule, one(0.06), before(0.04), context);
  assert.equal(fresh.outcome, 'failed');
  assert.equal(fresh.reason, 'error-rate 0.06 > max 0.05; before the deploy 0.04 (ratio 1.5× ≤ 2×)');
  // The baseline broke the other limit (min), not max: not preexisting.
  const other = judge(check({ max: 0.05, min: 0.01 }), one(0.5), before(0.001), context);
  assert.equal(other.outcome, 'failed');
});

test('the brief\'s example reason names value, limit, baseline and ratio', () => {
  const result = judge(check({ max: 0.05, baseline: { maxRatio: 2 } }), one(0.5), before(0.001), context);
  assert.equal(result.outcome, 'failed');
  assert.equal(result.reason, 'error-rate 0.5 > max 0.05; before the deploy 0.001 (ratio 500× > 2×)');
});

test('baseline rule: maxRatio alone, maxIncrease alone, and both (fails only past both)', () => {
  const ratio = check({ baseline: { maxRatio: 2 } });
  assert.equal(judge(ratio, one(0.0021), before(0.001), context).outcome, 'failed');
  assert.equal(judge(ratio, one(0.002), before(0.001), context).outcome, 'passed');
  const ratioFailed = judge(ratio, one(0.005), before(0.001), context);
  assert.equal(ratioFailed.reason, 'error-rate 0.005 rose past its baseline: before the deploy 0.001 (ratio 5× > 2×)');

  const increase = check({ baseline: { maxIncrease: 0.01 } });
  assert.equal(judge(increase, one(0.005), before(0.001), context).outcome, 'passed');
  const increaseFailed = judge(increase, one(0.02), before(0.001), context);
  assert.equal(increaseFailed.outcome, 'failed');
  assert.equal(increaseFailed.reason, 'error-rate 0.02 rose past its baseline: before the deploy 0.001 (increase +0.019 > +0.01)');

  // 0.1 % → 0.2 %: twice as much (past the ratio) but only +0.001 (within the increase): passes.
  const both = check({ baseline: { maxRatio: 1.5, maxIncrease: 0.01 } });
  const smallRise = judge(both, one(0.002), before(0.001), context);
  assert.equal(smallRise.outcome, 'passed');
  assert.deepEqual([smallRise.maxRatio, smallRise.maxIncrease], [1.5, 0.01]);
  // Past the increase but within the ratio: passes too.
  assert.equal(judge(both, one(0.3), before(0.28), context).outcome, 'passed');
  const bothBroken = judge(both, one(0.05), before(0.001), context);
  assert.equal(bothBroken.outcome, 'failed');
  assert.equal(bothBroken.reason, 'error-rate 0.05 rose past its baseline: before the deploy 0.001 (ratio 50× > 1.5×, increase +0.049 > +0.01)');
  // A baseline of 0: any rise is past any ratio.
  assert.match(judge(ratio, one(0.01), before(0), context).reason ?? '', /ratio from 0 > 2×/);
});

test('no baseline value: a baseline-only check is inconclusive; one with max is judged on max', () => {
  const only = check({ baseline: { maxRatio: 2 } });
  const none = judge(only, one(0.5), undefined, context);
  assert.equal(none.outcome, 'inconclusive');
  assert.equal(none.value, 0.5);
  assert.match(none.reason ?? '', /no baseline from before the deploy/);
  const failedCapture = judge(only, one(0.5), before(null, { error: 'Prometheus unreachable: connection refused' }), context);
  assert.equal(failedCapture.outcome, 'inconclusive');
  assert.match(failedCapture.reason ?? '', /no baseline from before the deploy.*connection refused/);
  // An error entry's value is never used, even if one is there.
  assert.equal(judge(only, one(0.5), before(0.1, { error: 'x' }), context).baselineValue, null);

  const withMax = check({ max: 0.05, baseline: { maxRatio: 2 } });
  assert.equal(judge(withMax, one(0.01), undefined, context).outcome, 'passed');
  assert.equal(judge(withMax, one(0.5), undefined, context).outcome, 'failed');
});

test('a threshold check needs one number: several series, NaN and ±Inf are inconclusive with a reason', () => {
  const many = judge(check({ max: 1 }), { kind: 'values', values: [0.1, 0.2, 0.3] }, undefined, context);
  assert.equal(many.outcome, 'inconclusive');
  assert.equal(many.value, null);
  assert.match(many.reason ?? '', /returned 3 series: aggregate it to one number, e\.g\. sum\(\.\.\.\) or max\(\.\.\.\)/);

  const nan = judge(check({ max: 1 }), one(Number.NaN), before(0.1), context);
  assert.equal(nan.outcome, 'inconclusive');
  assert.equal(nan.value, null);
  assert.match(nan.reason ?? '', /NaN.*0\/0.*no traffic/);
  const inf = judge(check({ max: 1 }), one(Number.POSITIVE_INFINITY), undefined, context);
  assert.equal(inf.outcome, 'inconclusive');
  assert.match(inf.reason ?? '', /\+Inf/);
  assert.match(judge(check({ min: 1 }), one(Number.NEGATIVE_INFINITY), undefined, context).reason ?? '', /-Inf/);
});

test('no data: inconclusive by default, passed with noData: pass; an error measurement is inconclusive with its reason', () => {
  const empty: MetricMeasurement = { kind: 'no-data' };
  const inconclusive = judge(check({ max: 0.05 }), empty, undefined, context);
  assert.equal(inconclusive.outcome, 'inconclusive');
  assert.match(inconclusive.reason ?? '', /no data/);
  const passed = judge(check({ max: 0.05, noData: 'pass' }), empty, undefined, context);
  assert.equal(passed.outcome, 'passed');
  assert.equal(passed.reason, null);

  const error = judge(check({ max: 0.05 }), { kind: 'error', reason: 'Prometheus refused the query (bad_data): parse error', retryable: false }, undefined, { attempts: 1, evaluatedAt: at });
  assert.equal(error.outcome, 'inconclusive');
  assert.match(error.reason ?? '', /error-rate: Prometheus refused the query \(bad_data\): parse error/);
});

test('newSeries: label sets present now and absent before fail, sorted; none new or no series passes; no baseline is inconclusive', () => {
  const types = metricCheckSchema.parse({ name: 'new-errors', query: 'count by (type) (app_errors_total)', newSeries: true });
  const baseline = before(null, { series: [{ type: 'timeout' }, { type: 'db', zone: 'a' }] });
  const now: MetricMeasurement = { kind: 'series', series: [{ zone: 'a', type: 'db' }, { type: 'zz_oom' }, { type: 'timeout' }, { type: 'null_pointer' }, { type: 'a_panic', code: '1' }] };
  const found = judge(types, now, baseline, context);
  assert.equal(found.outcome, 'failed');
  assert.equal(found.value, null);
  assert.deepEqual(found.newSeries, [{ code: '1', type: 'a_panic' }, { type: 'null_pointer' }, { type: 'zz_oom' }]);
  assert.deepEqual(Object.keys(found.newSeries?.[0] ?? {}), ['code', 'type']);
  assert.equal(found.reason, 'new-errors: 3 series absent before the deploy: {code="1", type="a_panic"}, {type="null_pointer"}, {type="zz_oom"}');

  const same = judge(types, { kind: 'series', series: [{ type: 'timeout' }] }, baseline, context);
  assert.equal(same.outcome, 'passed');
  assert.deepEqual(same.newSeries, []);
  assert.equal(judge(types, { kind: 'no-data' }, undefined, context).outcome, 'passed');
  const unknown = judge(types, now, undefined, context);
  assert.equal(unknown.outcome, 'inconclusive');
  assert.match(unknown.reason ?? '', /no baseline from before the deploy/);
  assert.equal(judge(types, now, before(null, { error: 'refused' }), context).outcome, 'inconclusive');
});

test('metricsVerdict: fatal results only; failed beats inconclusive; preexisting passes', () => {
  const result = (outcome: 'passed' | 'failed' | 'inconclusive' | 'preexisting', severity: 'fatal' | 'warning' = 'fatal') => ({ ...judge(check({ max: 1 }), one(0), undefined, context), outcome, severity });
  assert.equal(metricsVerdict([]), 'passed');
  assert.equal(metricsVerdict([result('passed'), result('preexisting')]), 'passed');
  assert.equal(metricsVerdict([result('inconclusive'), result('passed')]), 'inconclusive');
  assert.equal(metricsVerdict([result('inconclusive'), result('failed')]), 'failed');
  assert.equal(metricsVerdict([result('failed', 'warning'), result('inconclusive', 'warning'), result('passed')]), 'passed');
});
