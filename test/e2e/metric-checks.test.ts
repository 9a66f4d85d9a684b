// End to end: metric checks through a real Prometheus (Debian's, on a free port, scraping the demo
// service every second) judge what /health does not see. An error-rate regression is reverted;
// an error rate at its baseline passes; one that was already high before the deploy and did not
// rise is not this deployment's doing; a Prometheus that stops during the window, a bad query or
// an unreachable Prometheus are inconclusive (an escalation, never a revert); a new error type is
// caught. Real HTTP traffic (demo.startTraffic) drives the counters.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DemoBranches, type Traffic } from '@agentbus/demo';
import type { MetricCheckInput } from '@agentbus/health';
import { freePort } from '@agentbus/local-nats';
import { startPrometheus, waitFor, type PrometheusServer } from '@agentbus/testkit';
import { eventOf, startLoop, storyOf, type Loop } from './harness.ts';

/**
 * The metric checks of one test's service, on its instance only (a port of its own: the services
 * of the tests before it are still in Prometheus' recent samples).
 */
type Checks = (instance: string) => MetricCheckInput[];

/** The share of /api/route answers that are 5xx over the last 4 s (0 with traffic and no errors). */
const errorRateQuery = (instance: string) =>
  `(sum(rate(demo_http_requests_total{instance="${instance}",path="/api/route",code=~"5.."}[4s])) or vector(0)) / sum(rate(demo_http_requests_total{instance="${instance}",path="/api/route"}[4s]))`;
const errorRate: Checks = (instance) => [{ name: 'error-rate', query: errorRateQuery(instance), max: 0.05, baseline: { maxRatio: 2, maxIncrease: 0.02 } }];
const newErrorTypes: Checks = (instance) => [{ name: 'new-error-types', query: `count by (type) (demo_errors_total{instance="${instance}"})`, newSeries: true }];

// One Prometheus for the file, scraping from the start every port a test's service will have:
// a target that is not up yet is only `up == 0`, and no test waits out the 5 s Prometheus takes
// to pick up a changed target list.
let prometheus: PrometheusServer;
const ports: number[] = [];
before(async () => {
  for (let i = 0; i < 8; i++) ports.push(await freePort());
  prometheus = await startPrometheus(ports.map((port) => `127.0.0.1:${port}`));
});
after(() => prometheus.stop());

/**
 * A loop whose service has `metrics`, judged 5 s after the deploy (the 4 s rate window then holds
 * only the new version), with traffic from before the deploy to the end and Prometheus scraping
 * it; the deploy starts once the query reads the error rate the service has (the baseline has data).
 */
async function metricLoop(t: TestContext, checks: Checks, options: { errorRate?: number; prometheusUrl?: string; stabilizationMs?: number } = {}): Promise<Loop> {
  let traffic: Traffic | undefined;
  const port = ports.shift();
  assert.ok(port, 'a port for each test: add to ports');
  const instance = `127.0.0.1:${port}`;
  const loop = await startLoop({
    demo: { port },
    registry: { metrics: checks(instance), followupOffsetsMs: [], stabilizationMs: options.stabilizationMs ?? 5_000 },
    sections: () => ({ prometheus: { url: options.prometheusUrl ?? prometheus.url, retries: 2, retryIntervalMs: 300, timeoutMs: 2_000 } }),
    beforeServices: async ({ demo }) => {
      if (options.errorRate) demo.setErrorRate(options.errorRate);
      traffic = demo.startTraffic({ intervalMs: 20 });
      if (options.prometheusUrl) return;
      await prometheus.waitForTarget(demo.metricsTarget);
      // Until the 5xx series has two samples in the window, the query reads 0: wait for the rate the service really has.
      const expected = options.errorRate ?? 0;
      await waitFor(`the error rate to read ${expected}`, async () => {
        const value = await instant(errorRateQuery(instance));
        return value !== undefined && Math.abs(value - expected) < 0.05;
      }, 20_000, 200);
    },
  });
  t.after(async () => {
    await traffic?.stop();
    await loop.stop();
  });
  return loop;
}

async function instant(query: string): Promise<number | undefined> {
  const answer = (await (await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(query)}`)).json()) as { data: { result: Array<{ value: [number, string] }> } };
  const value = answer.data.result[0]?.value[1];
  return value === undefined || Number.isNaN(Number(value)) ? undefined : Number(value);
}

test('an error-rate regression while /health stays 200 is reverted, and the verdict shows the value against its baseline', async (t) => {
  const loop = await metricLoop(t, errorRate);
  const run = await loop.deploy(DemoBranches.errorSpike, { timeoutMs: 60_000 });
  assert.equal(run.summary.outcome, 'rolled-back', loop.logTail());
  const events = await loop.events(run.taskId);
  assert.deepEqual(storyOf(events), ['deploy.merged', 'deploy.completed', 'health.failed', 'rollback.started', 'rollback.reverted', 'rollback.completed']);
  const failed = eventOf(events, 'health.failed')!;
  assert.deepEqual(failed.data.checks.filter((c) => !c.ok && c.severity === 'fatal'), [], '/health never failed');
  const [metric] = failed.data.metrics;
  assert.equal(metric?.outcome, 'failed', JSON.stringify(metric));
  assert.ok(metric.value !== null && metric.value > 0.3, `every 2nd request fails: ${metric.value}`);
  assert.equal(metric.baselineValue, 0, 'no errors before the deploy');
  assert.match(metric.reason ?? '', /error-rate 0\.\d+ > max 0\.05/);
  assert.deepEqual(eventOf(events, 'deploy.merged')?.data.metricBaseline?.values.map((v) => [v.name, v.value, v.error]), [['error-rate', 0, null]], 'captured before the merge');
  assert.match(eventOf(events, 'rollback.started')!.data.reason, /^metric check failed after deploy of feature\/bulk-routing: error-rate 0\.\d+ > max 0\.05; before the deploy 0 /);
  assert.equal(await loop.origin(['rev-list', '--count', '--grep', 'This reverts commit', 'HEAD']), '1');
});

test('an error rate that stays at its baseline passes', async (t) => {
  const loop = await metricLoop(t, errorRate);
  const run = await loop.deploy(DemoBranches.good, { timeoutMs: 60_000 });
  assert.equal(run.summary.outcome, 'healthy', loop.logTail());
  const metric = eventOf(await loop.events(run.taskId), 'health.passed')?.data.metrics[0];
  assert.deepEqual([metric?.outcome, metric?.value, metric?.baselineValue], ['passed', 0, 0]);
});

test('an error rate already high before the deploy that did not rise is not reverted: preexisting, not this deployment\'s', async (t) => {
  const loop = await metricLoop(t, errorRate, { errorRate: 0.3 });
  const run = await loop.deploy(DemoBranches.good, { timeoutMs: 60_000 });
  assert.equal(run.summary.outcome, 'healthy', loop.logTail());
  const events = await loop.events(run.taskId);
  const metric = eventOf(events, 'health.passed')?.data.metrics[0];
  assert.equal(metric?.outcome, 'preexisting', JSON.stringify(metric));
  assert.ok(metric.baselineValue !== null && Math.abs(metric.baselineValue - 0.3) < 0.05, `baseline ${metric.baselineValue}`);
  assert.ok(metric.value !== null && Math.abs(metric.value - 0.3) < 0.05, `after ${metric.value}`);
  assert.equal(eventOf(events, 'rollback.started'), undefined);
});

test('Prometheus stopped during the window: inconclusive and an escalation, nothing reverted, the lease freed', async (t) => {
  const loop = await metricLoop(t, errorRate);
  t.after(() => prometheus.restart()); // for the tests after this one
  const deploying = loop.deploy(DemoBranches.good, { timeoutMs: 60_000 });
  const id = await waitFor('the merge', () => loop.latestDeployment().catch(() => undefined), 20_000, 50);
  await loop.waitForEvent(id, 'deploy.merged');
  await prometheus.stop();
  const run = await deploying;
  assert.equal(run.summary.outcome, 'inconclusive', loop.logTail());
  const events = await loop.events(run.taskId);
  assert.deepEqual(storyOf(events), ['deploy.merged', 'deploy.completed', 'health.inconclusive', 'escalation.raised']);
  const metric = eventOf(events, 'health.inconclusive')!.data.metrics[0];
  assert.equal(metric?.outcome, 'inconclusive');
  assert.equal(metric.attempts, 3, 'tried, then retried twice');
  assert.match(metric.reason ?? '', /unreachable/i);
  const raised = eventOf(events, 'escalation.raised')!;
  assert.equal(raised.data.kind, 'inconclusive');
  assert.match(raised.data.summary, /passed its HTTP checks, but its metric checks could not be judged, so agentbus neither passed nor rolled it back: error-rate: /);
  assert.equal(await loop.origin(['rev-list', '--count', '--grep', 'This reverts commit', 'HEAD']), '0');
  // The deployment does not hold the service: the next deploy starts at once.
  const next = await loop.deploy(DemoBranches.flaky, { timeoutMs: 60_000 });
  assert.notEqual(next.summary.outcome, 'in-progress');
});

test('a new error type after the deploy is caught and reverted, with the new series named', async (t) => {
  const loop = await metricLoop(t, newErrorTypes, { stabilizationMs: 3_000 });
  const run = await loop.deploy(DemoBranches.newErrorType, { timeoutMs: 60_000 });
  assert.equal(run.summary.outcome, 'rolled-back', loop.logTail());
  const events = await loop.events(run.taskId);
  const metric = eventOf(events, 'health.failed')!.data.metrics[0];
  assert.equal(metric?.outcome, 'failed');
  assert.deepEqual(metric.newSeries, [{ type: 'alias_lookup_failed' }]);
  assert.deepEqual(eventOf(events, 'deploy.merged')?.data.metricBaseline?.values[0]?.series, [{ type: 'upstream_timeout' }], 'what there was before');
});

test('bad input: a PromQL query Prometheus refuses is inconclusive with its own error, at once and never reverted', async (t) => {
  const loop = await metricLoop(t, () => [{ name: 'broken-query', query: 'sum(rate(demo_http_requests_total[5s])', max: 1 }], { stabilizationMs: 0 });
  const run = await loop.deploy(DemoBranches.good, { timeoutMs: 60_000 });
  assert.equal(run.summary.outcome, 'inconclusive', loop.logTail());
  const events = await loop.events(run.taskId);
  const metric = eventOf(events, 'health.inconclusive')!.data.metrics[0];
  assert.equal(metric?.attempts, 1, 'a refused query is not retried');
  assert.match(metric.reason ?? '', /parse error/);
  assert.match(eventOf(events, 'escalation.raised')!.data.summary, /broken-query: .*parse error/);
  assert.equal(eventOf(events, 'rollback.started'), undefined);
});

test('bad input: an unreachable Prometheus URL in the registry is inconclusive at check time, never reverted', async (t) => {
  const port = await freePort(); // nothing listens there
  const url = `http://127.0.0.1:${port}`;
  const loop = await metricLoop(t, errorRate, { prometheusUrl: url, stabilizationMs: 0 });
  const run = await loop.deploy(DemoBranches.errorSpike, { timeoutMs: 60_000 });
  assert.equal(run.summary.outcome, 'inconclusive', loop.logTail());
  const events = await loop.events(run.taskId);
  assert.match(eventOf(events, 'deploy.merged')?.data.metricBaseline?.values[0]?.error ?? '', /unreachable/i, 'the baseline could not be captured either');
  const metric = eventOf(events, 'health.inconclusive')!.data.metrics[0];
  assert.match(metric?.reason ?? '', new RegExp(`Prometheus unreachable: connection refused, nothing listens on 127\\.0\\.0\\.1:${port}`));
  assert.equal(metric?.attempts, 3);
  assert.equal(eventOf(events, 'rollback.started'), undefined);
  assert.match(readFileSync(loop.logPath, 'utf8'), new RegExp(`"msg":"Prometheus at ${url.replace(/[.:/]/g, '\\$&')} does not answer: metric checks will be inconclusive until it does"`), 'and the health monitor said so when it started');
});
