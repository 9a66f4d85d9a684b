import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { metricBaselineSchema, metricResultSchema } from '@agentbus/contracts';
import { freePort } from '@agentbus/local-nats';
import { startPrometheus, type PrometheusServer } from '@agentbus/testkit';
import {
  captureMetricBaseline,
  isHealthError,
  metricCheckSchema,
  metricsVerdict,
  prometheusSectionSchema,
  PrometheusClient,
  runMetricChecks,
  type MetricCheckInput,
} from '@agentbus/health';
import { startServer, type TestServer } from './http-servers.ts';

// One Prometheus for the file, scraping one exporter whose series the tests set. Each test uses
// metric names of its own (t1_…, t2_…), so what one test changes no other test reads.
const series = new Map<string, number>([
  ['t1_requests_in_flight', 7],
  ['t2_error_ratio', 0.001],
  ['t2_legacy_error_ratio', 0.3],
  ['t2_latency_p95_seconds', 0.12],
  ['t2_errors_total{type="timeout"}', 3],
]);
let exporter: TestServer;
let prometheus: PrometheusServer;
let client: PrometheusClient;
let target: string;

before(async () => {
  exporter = await startServer((request, response) => {
    if (request.url !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' });
      return response.end('404 page not found\n');
    }
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    response.end([...series].map(([name, value]) => `${name} ${value}\n`).join(''));
  });
  target = `127.0.0.1:${exporter.port}`;
  prometheus = await startPrometheus([target]);
  await prometheus.waitForTarget(target);
  client = new PrometheusClient(prometheusSectionSchema.parse({ url: prometheus.url, timeoutMs: 2_000 }));
});

after(async () => {
  await prometheus?.stop();
  await exporter?.close();
});

/** Polls an instant query until `ready` holds for its series: the exporter's change was scraped. */
async function waitForScrape(query: string, ready: (values: Array<{ labels: Record<string, string>; value: number }>) => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (ready((await client.query(query)).series)) return;
    } catch {
      // Prometheus restarting
    }
    if (Date.now() > deadline) throw new Error(`${query} did not reach the expected value within ${timeoutMs} ms`);
    await sleep(100);
  }
}

const checks = (inputs: MetricCheckInput[]) => inputs.map((input) => metricCheckSchema.parse(input));

test('an instant query: a vector value with its labels, without __name__', async () => {
  const answer = await client.query('t1_requests_in_flight');
  assert.equal(answer.resultType, 'vector');
  assert.deepEqual(answer.series, [{ labels: { instance: target, job: 'services' }, value: 7 }]);
  const summed = await client.query('sum(t1_requests_in_flight) * 2');
  assert.deepEqual(summed.series, [{ labels: {}, value: 14 }]);
});

test('a scalar is one series with no labels; NaN and ±Inf come as those numbers', async () => {
  assert.deepEqual(await client.query('scalar(t1_requests_in_flight)'), { resultType: 'scalar', series: [{ labels: {}, value: 7 }] });
  assert.ok(Number.isNaN((await client.query('0/0')).series[0]?.value));
  assert.equal((await client.query('1/0')).series[0]?.value, Number.POSITIVE_INFINITY);
  assert.equal((await client.query('-1/0')).series[0]?.value, Number.NEGATIVE_INFINITY);
});

test('no data: an unknown metric, and a time before any sample, are an empty answer', async () => {
  assert.deepEqual(await client.query('t1_no_such_metric'), { resultType: 'vector', series: [] });
  const hourAgo = Date.now() - 3_600_000;
  assert.deepEqual((await client.query('t1_requests_in_flight', { at: hourAgo })).series, []);
  assert.deepEqual((await client.query('t1_requests_in_flight', { at: new Date(hourAgo) })).series, []);
});

test('a bad PromQL query is prometheus-query-failed with Prometheus\' own words, and is not retried', async () => {
  const broken = 'sum(rate(t1_requests_in_flight[1m])';
  await assert.rejects(client.query(broken), (error: unknown) => {
    assert.ok(isHealthError(error));
    assert.equal(error.code, 'prometheus-query-failed');
    assert.equal(error.retryable, false);
    assert.match(error.message, /bad_data.*parse error: unclosed left parenthesis/);
    assert.match(error.hint ?? '', /fix the check's query/);
    return true;
  });
  // A range vector is no number either: refused before any judging.
  await assert.rejects(client.query('t1_requests_in_flight[1m]'), (error: unknown) => isHealthError(error) && error.code === 'prometheus-query-failed' && /range vector/.test(error.message));

  const started = Date.now();
  const [result] = await runMetricChecks(client, checks([{ name: 'broken', query: broken, max: 1 }]), undefined, { retries: 3, retryIntervalMs: 1_000 });
  assert.equal(result?.outcome, 'inconclusive');
  assert.equal(result?.attempts, 1);
  assert.match(result?.reason ?? '', /unclosed left parenthesis/);
  assert.ok(Date.now() - started < 1_000, 'no retry pause for a query Prometheus refused');
});

test('nothing listening is prometheus-unreachable (retryable); an answer that is not Prometheus JSON is prometheus-error', async () => {
  const port = await freePort();
  const nowhere = new PrometheusClient(prometheusSectionSchema.parse({ url: `http://127.0.0.1:${port}`, timeoutMs: 1_000 }));
  await assert.rejects(nowhere.query('up'), (error: unknown) => {
    assert.ok(isHealthError(error));
    assert.equal(error.code, 'prometheus-unreachable');
    assert.equal(error.retryable, true);
    assert.match(error.message, new RegExp(`connection refused, nothing listens on 127\\.0\\.0\\.1:${port}`));
    return true;
  });
  const silent = await startServer(() => undefined);
  try {
    const slow = new PrometheusClient(prometheusSectionSchema.parse({ url: silent.url, timeoutMs: 200 }));
    await assert.rejects(slow.query('up'), (error: unknown) => isHealthError(error) && error.code === 'prometheus-unreachable' && error.retryable && /did not answer within 1200 ms/.test(error.message));
  } finally {
    await silent.close();
  }
  const notPrometheus = new PrometheusClient(prometheusSectionSchema.parse({ url: exporter.url, timeoutMs: 1_000 }));
  await assert.rejects(notPrometheus.query('up'), (error: unknown) => {
    assert.ok(isHealthError(error));
    assert.equal(error.code, 'prometheus-error');
    assert.equal(error.retryable, true);
    assert.match(error.message, /HTTP 404\) is not the Prometheus API's JSON: 404 page not found/);
    return true;
  });
});

const deployChecks = checks([
  { name: 'error-rate', query: 't2_error_ratio', max: 0.05, baseline: { maxRatio: 2 } },
  { name: 'legacy-error-rate', query: 't2_legacy_error_ratio', max: 0.05 },
  { name: 'latency-p95', query: 't2_latency_p95_seconds', max: 1 },
  { name: 'new-errors', query: 'count by (type) (t2_errors_total)', newSeries: true },
]);

test('a baseline, a bad deploy, the checks: failed with the numbers, a new error type caught, a preexisting one spared; then Prometheus down and back', async (t) => {
  const baseline = await captureMetricBaseline(client, deployChecks);
  metricBaselineSchema.parse(baseline);
  assert.deepEqual(
    baseline.values.map(({ name, value, error }) => ({ name, value, error })),
    [
      { name: 'error-rate', value: 0.001, error: null },
      { name: 'legacy-error-rate', value: 0.3, error: null },
      { name: 'latency-p95', value: 0.12, error: null },
      { name: 'new-errors', value: null, error: null },
    ],
  );
  assert.deepEqual(baseline.values[3]?.series, [{ type: 'timeout' }]);

  series.set('t2_error_ratio', 0.5);
  series.set('t2_errors_total{type="null_pointer"}', 1);
  await waitForScrape('t2_error_ratio', (now) => now[0]?.value === 0.5);
  await waitForScrape('count by (type) (t2_errors_total)', (now) => now.length === 2);

  const results = await runMetricChecks(client, deployChecks, baseline, { retries: 0, retryIntervalMs: 0 });
  for (const result of results) metricResultSchema.parse(result);
  const [errorRate, legacy, latency, newErrors] = results;
  assert.equal(errorRate?.outcome, 'failed');
  assert.equal(errorRate?.value, 0.5);
  assert.equal(errorRate?.baselineValue, 0.001);
  assert.equal(errorRate?.reason, 'error-rate 0.5 > max 0.05; before the deploy 0.001 (ratio 500× > 2×)');
  assert.equal(legacy?.outcome, 'preexisting', '0.3 before and after with max 0.05 is not this deployment\'s doing');
  assert.equal(latency?.outcome, 'passed');
  assert.equal(newErrors?.outcome, 'failed');
  assert.deepEqual(newErrors?.newSeries, [{ type: 'null_pointer' }]);
  assert.equal(metricsVerdict(results), 'failed');
  assert.deepEqual(results.map((result) => result.attempts), [1, 1, 1, 1]);

  // A check missing from the baseline, or whose query changed since, is asked at capturedAt.
  const [changed, added] = await runMetricChecks(
    client,
    checks([
      { name: 'error-rate', query: 't2_error_ratio * 2', max: 0.05, baseline: { maxRatio: 2 } },
      { name: 'added-later', query: 't2_error_ratio', baseline: { maxIncrease: 0.1 } },
    ]),
    baseline,
    { retries: 0, retryIntervalMs: 0 },
  );
  assert.equal(changed?.baselineValue, 0.002, 'the changed query asked at capturedAt, not the old query\'s value');
  assert.equal(added?.baselineValue, 0.001);
  assert.equal(added?.outcome, 'failed');
  assert.match(added?.reason ?? '', /increase \+0\.499 > \+0\.1/);

  // Prometheus down: every check inconclusive after its retries, never failed.
  await prometheus.stop();
  t.after(async () => {
    if (!prometheus.running) await prometheus.restart();
  });
  const down = await runMetricChecks(client, deployChecks, baseline, { retries: 2, retryIntervalMs: 100 });
  assert.deepEqual(down.map((result) => result.outcome), ['inconclusive', 'inconclusive', 'inconclusive', 'inconclusive']);
  assert.deepEqual(down.map((result) => result.attempts), [3, 3, 3, 3]);
  for (const result of down) assert.match(result.reason ?? '', /connection refused/);
  assert.equal(metricsVerdict(down), 'inconclusive');

  // An abort during the retries ends the run at once.
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 200);
  const aborting = Date.now();
  await assert.rejects(runMetricChecks(client, deployChecks, baseline, { retries: 5, retryIntervalMs: 5_000, signal: controller.signal }), (error: unknown) => isHealthError(error) && error.code === 'probe-aborted');
  assert.ok(Date.now() - aborting < 2_000);

  // A baseline captured while Prometheus is down records the errors ...
  const blind = await captureMetricBaseline(client, deployChecks);
  metricBaselineSchema.parse(blind);
  for (const value of blind.values) {
    assert.equal(value.value, null);
    assert.deepEqual(value.series, []);
    assert.match(value.error ?? '', /connection refused/);
  }
  // ... and is fetched at capturedAt once Prometheus is back: the values from before the capture
  // (0.5 and two error types), not the values now (0.02 and a third type).
  series.set('t2_error_ratio', 0.02);
  series.set('t2_errors_total{type="oom"}', 1);
  await prometheus.restart();
  await waitForScrape('t2_error_ratio', (now) => now[0]?.value === 0.02);
  await waitForScrape('count by (type) (t2_errors_total)', (now) => now.length === 3);
  const later = await runMetricChecks(client, deployChecks, blind, { retries: 0, retryIntervalMs: 0 });
  const [laterErrorRate, , , laterNewErrors] = later;
  assert.equal(laterErrorRate?.baselineValue, 0.5);
  assert.equal(laterErrorRate?.value, 0.02);
  assert.equal(laterErrorRate?.outcome, 'passed');
  assert.equal(laterNewErrors?.outcome, 'failed');
  assert.deepEqual(laterNewErrors?.newSeries, [{ type: 'oom' }]);
});
