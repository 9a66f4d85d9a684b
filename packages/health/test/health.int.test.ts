import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '@agentbus/local-nats';
import { isHealthError, probeBaseline, probeOnce, runProbes, waitUntilHealthy, type HealthCheckInput } from '@agentbus/health';
import { healthy, json, startServer } from './http-servers.ts';

const check = (url: string, extra: Partial<HealthCheckInput> = {}): HealthCheckInput => ({ name: 'health', url: `${url}/health`, timeoutMs: 1_000, ...extra });

test('probeOnce: a healthy answer passes with its status, fields and latency', async () => {
  const server = await startServer(healthy);
  try {
    const probe = await probeOnce(check(server.url, { expectJson: { status: 'ok', 'checks.db.ok': true } }));
    assert.equal(probe.ok, true);
    assert.equal(probe.status, 200);
    assert.equal(probe.error, null);
    assert.equal(probe.timedOut, false);
    assert.ok(probe.latencyMs > 0 && probe.latencyMs < 1_000);
    assert.equal(probe.check, 'health');
  } finally {
    await server.close();
  }
});

test('probeOnce names each failure: refused, wrong status, field mismatch, missing field, not JSON, reset, timeout', async () => {
  const closedPort = await freePort();
  const refused = await probeOnce(check(`http://127.0.0.1:${closedPort}`));
  assert.equal(refused.error?.kind, 'connection-refused');
  assert.match(refused.error?.message ?? '', new RegExp(`nothing listens on 127\\.0\\.0\\.1:${closedPort}`));
  assert.equal(refused.status, null);

  const server = await startServer((request, response) => {
    if (request.url === '/500') return json(response, 500, { error: 'db down' });
    if (request.url === '/degraded') return json(response, 200, { status: 'degraded', checks: {} });
    if (request.url === '/html') {
      response.writeHead(200, { 'content-type': 'text/html' });
      return response.end('<h1>ok</h1>');
    }
    if (request.url === '/crash') return request.socket.destroy();
    if (request.url === '/hang') return;
    return healthy(request, response, 0);
  });
  try {
    const wrongStatus = await probeOnce({ name: 's', url: `${server.url}/500` });
    assert.equal(wrongStatus.error?.kind, 'wrong-status');
    assert.equal(wrongStatus.status, 500);
    assert.match(wrongStatus.error?.message ?? '', /status 500, expected 200: \{"error":"db down"\}/);

    const expectJson = { status: 'ok', 'checks.db.ok': true };
    const mismatch = await probeOnce({ name: 'f', url: `${server.url}/degraded`, expectJson });
    assert.equal(mismatch.error?.kind, 'field-mismatch');
    assert.equal(mismatch.error?.message, 'field status is "degraded", expected "ok"');
    assert.deepEqual(mismatch.error?.field, { path: 'status', expected: 'ok', actual: 'degraded' });

    const missing = await probeOnce({ name: 'f', url: `${server.url}/degraded`, expectJson: { 'checks.db.ok': true } });
    assert.equal(missing.error?.message, 'field checks.db.ok is missing, expected true');

    const html = await probeOnce({ name: 'h', url: `${server.url}/html`, expectJson });
    assert.equal(html.error?.kind, 'invalid-json');
    assert.equal((await probeOnce({ name: 'h', url: `${server.url}/html` })).ok, true, 'no field expectations: any body will do');

    assert.equal((await probeOnce({ name: 'c', url: `${server.url}/crash` })).error?.kind, 'connection-reset');

    const hang = await probeOnce({ name: 't', url: `${server.url}/hang`, timeoutMs: 150 });
    assert.equal(hang.error?.kind, 'timeout');
    assert.equal(hang.timedOut, true);
    assert.ok(hang.latencyMs >= 145 && hang.latencyMs < 600, `cut off at the time-out, took ${hang.latencyMs} ms`);
  } finally {
    await server.close();
  }
});

test('one 500 among 200s is not a failure; consecutive failures are', async () => {
  const flaky = await startServer((request, response, n) => (n === 2 ? json(response, 500, { status: 'error' }) : healthy(request, response, n)));
  try {
    const report = await runProbes([check(flaky.url, { expectJson: { status: 'ok' } })], { probes: 5, intervalMs: 10, consecutiveFailures: 3 });
    assert.equal(report.healthy, true);
    const [verdict] = report.checks;
    assert.equal(verdict?.outcome, 'passed');
    assert.deepEqual([verdict?.status, verdict?.expectStatus], [200, 200]);
    assert.deepEqual(verdict?.failures, { total: 1, maxConsecutive: 1, threshold: 3 });
    assert.equal(verdict?.error?.kind, 'wrong-status', 'the flaky probe is still reported');
    assert.deepEqual(verdict?.probes.map((probe) => probe.status), [200, 500, 200, 200, 200]);
  } finally {
    await flaky.close();
  }

  const down = `http://127.0.0.1:${await freePort()}`;
  const report = await runProbes([check(down)], { probes: 5, intervalMs: 10, consecutiveFailures: 3 });
  assert.equal(report.healthy, false);
  assert.deepEqual(report.failedChecks, ['health']);
  assert.deepEqual(report.rounds, { planned: 5, run: 3, stoppedEarly: true }, 'the verdict was final after three');
  assert.match(report.checks[0]?.reasons[0] ?? '', /^3 consecutive failed probes \(threshold 3\): connection refused/);
});

test('latency is judged on p95: a slow fatal check fails, a slow warning only warns and the run stays healthy', async () => {
  const slow = await startServer((request, response, n) => setTimeout(() => healthy(request, response, n), 80));
  try {
    const checks: HealthCheckInput[] = [
      check(slow.url, { name: 'api', latencyThresholdMs: 40, severity: 'fatal' }),
      check(slow.url, { name: 'home', latencyThresholdMs: 40, severity: 'warning' }),
    ];
    const report = await runProbes(checks, { probes: 2, intervalMs: 0, consecutiveFailures: 2 });
    assert.equal(report.healthy, false);
    assert.deepEqual(report.failedChecks, ['api']);
    assert.deepEqual(report.warnedChecks, ['home']);
    const [api, home] = report.checks;
    assert.equal(api?.latency.thresholdMs, 40);
    assert.ok((api?.latency.p95Ms ?? 0) >= 80, 'p95 over the probes');
    assert.equal(api?.latency.probesMs.length, 2);
    assert.match(api?.reasons[0] ?? '', /^p95 latency \d+ ms over the 40 ms threshold$/);
    assert.equal(api?.failures.total, 0, 'slow answers are not failed probes');
    assert.equal(home?.outcome, 'warned');

    const warningsOnly = await runProbes([checks[1] as HealthCheckInput], { probes: 2, intervalMs: 0, consecutiveFailures: 2 });
    assert.equal(warningsOnly.healthy, true, 'warnings never fail a run');
  } finally {
    await slow.close();
  }
});

test('a run reports waits and probe time-outs apart from the rest of its time', async () => {
  const server = await startServer((request, response, n) => {
    if (request.url === '/hang') return;
    healthy(request, response, n);
  });
  try {
    const report = await runProbes(
      [check(server.url), { name: 'hang', url: `${server.url}/hang`, timeoutMs: 100, severity: 'warning' }],
      { probes: 3, intervalMs: 50, consecutiveFailures: 3 },
    );
    assert.equal(report.healthy, true);
    assert.equal(report.checks[1]?.outcome, 'warned');
    assert.equal(report.checks[1]?.error?.kind, 'timeout');
    assert.ok(report.timing.waitedMs >= 95 && report.timing.waitedMs < 250, `two pauses of 50 ms, got ${report.timing.waitedMs}`);
    assert.ok(report.timing.timedOutMs >= 290 && report.timing.timedOutMs < 600, `three 100 ms time-outs, got ${report.timing.timedOutMs}`);
    const rest = report.timing.totalMs - report.timing.waitedMs - report.timing.timedOutMs;
    assert.ok(rest >= -5 && rest < 150, `what is left is probing, got ${rest} ms`);
  } finally {
    await server.close();
  }
});

test('waitUntilHealthy returns when the service comes back, and gives up at the deadline', async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  const comesBack = setTimeout(() => {
    void startServer(healthy, port).then((started) => (server = started));
  }, 250);
  try {
    const back = await waitUntilHealthy([check(url, { expectJson: { status: 'ok' } }), { name: 'optional', url: `${url}/nothing`, expectStatus: 204, severity: 'warning' }], {
      timeoutMs: 5_000,
      intervalMs: 50,
    });
    assert.equal(back.healthy, true);
    assert.ok(back.attempts > 1, `refused at first, then healthy (${back.attempts} attempts)`);
    assert.deepEqual(back.failingChecks, []);
    assert.equal(back.lastProbes.find((probe) => probe.check === 'optional')?.ok, false, 'warnings are probed, not waited for');
  } finally {
    clearTimeout(comesBack);
    await server?.close();
  }

  const started = Date.now();
  const never = await waitUntilHealthy([check(`http://127.0.0.1:${await freePort()}`)], { timeoutMs: 300, intervalMs: 50 });
  assert.equal(never.healthy, false);
  assert.deepEqual(never.failingChecks, ['health']);
  assert.equal(never.lastProbes[0]?.error?.kind, 'connection-refused');
  assert.ok(Date.now() - started < 1_000);
});

test('a baseline marks a service that is down as unhealthy, but not a service with one flaky probe', async () => {
  const down = await probeBaseline([check(`http://127.0.0.1:${await freePort()}`)], { probes: 2, intervalMs: 10 });
  assert.equal(down.healthy, false);
  assert.deepEqual(down.failingChecks, ['health']);
  assert.match(down.takenAt, /^\d{4}-\d\d-\d\dT/);

  const flaky = await startServer((request, response, n) => (n === 1 ? json(response, 503, {}) : healthy(request, response, n)));
  try {
    const baseline = await probeBaseline([check(flaky.url)], { probes: 3, intervalMs: 10 });
    assert.equal(baseline.healthy, true);
    assert.equal(baseline.report.checks[0]?.failures.total, 1);
  } finally {
    await flaky.close();
  }
});

test('invalid checks and options are refused up front, every problem named', async () => {
  await assert.rejects(
    runProbes([{ name: '', url: 'ftp://x', severity: 'critical' as 'fatal' }]),
    (error) => isHealthError(error, 'invalid-check') && /checks\.0\.name/.test(error.message) && /checks\.0\.url: expected an http/.test(error.message) && /checks\.0\.severity/.test(error.message),
  );
  await assert.rejects(runProbes([check('http://127.0.0.1:1')], { probes: 2, consecutiveFailures: 3 }), (error) => isHealthError(error, 'invalid-check') && /no check could ever fail/.test(error.message));
  await assert.rejects(runProbes([check('http://127.0.0.1:1'), check('http://127.0.0.1:2')]), (error) => isHealthError(error, 'invalid-check') && /two checks are named "health"/.test(error.message));
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(runProbes([check('http://127.0.0.1:1')], { signal: controller.signal }), (error) => isHealthError(error, 'probe-aborted') && error.retryable);
});
