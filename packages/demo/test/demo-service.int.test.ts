import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tempDir, waitFor } from '@agentbus/testkit';
import { GitRepo } from '@agentbus/git';
import { loadFleetConfig, isFleetError, type DeployCommandResult } from '@agentbus/fleet';
import { probeOnce, runProbes } from '@agentbus/health';
import { createDemoService, isRunning, type DemoService } from '@agentbus/demo';

/** Merges a feature branch into the production clone, pushes it and deploys it: what the deployer does. */
async function deployBranch(demo: DemoService, branch: string): Promise<void> {
  const repo = new GitRepo({ path: demo.clonePath, branch: demo.branch });
  await repo.fetch();
  await repo.mergeRef(branch);
  await repo.push();
  await demo.deploy();
}

async function getJson(url: string): Promise<{ status: number; body: unknown; ms: number }> {
  const started = performance.now();
  const response = await fetch(url, { signal: AbortSignal.timeout(3_000) });
  return { status: response.status, body: await response.json(), ms: performance.now() - started };
}

/** `count` requests to /api/route, one after the other, so the server's counters see them in order. */
async function routeStatuses(demo: DemoService, count: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) statuses.push((await getJson(demo.apiUrl)).status);
  return statuses;
}

async function exposition(demo: DemoService): Promise<string> {
  return (await fetch(`http://${demo.metricsTarget}/metrics`, { signal: AbortSignal.timeout(3_000) })).text();
}

/** The value of one series (`name{labels}` exactly as exposed), undefined when it is not exposed. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** `promtool check metrics` with the exposition on stdin: its exit code and what it printed. */
function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn('/usr/bin/promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, output }));
    child.stdin.end(text);
  });
}

async function assertValidExposition(demo: DemoService): Promise<string> {
  const text = await exposition(demo);
  const check = await promtoolCheck(text);
  assert.equal(check.code, 0, `promtool check metrics: ${check.output}\n${text}`);
  return text;
}

/** Timers this process holds (a leaked interval shows up as one). */
function timers(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
}

/**
 * Established TCP connections to `port` on this machine, from the kernel's table: a keep-alive
 * socket left open shows up here even while it is unref'd (which hides it from getActiveResourcesInfo).
 */
function connectionsTo(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).filter((line) => {
    const [, , remote, state] = line.trim().split(/\s+/);
    return remote?.endsWith(`:${hexPort}`) && state === '01';
  }).length;
}

test('seed 000 as a fixture: healthy at first, the broken merge crashes /health, the revert brings it back, cleanup leaves nothing', async () => {
  const demo = await createDemoService({ dir: tempDir('agentbus-demo-') });
  try {
    const config = demo.fleetConfig();
    const service = config.services[0];
    assert.ok(service);
    assert.equal(service.health.stabilizationMs, 0);
    assert.deepEqual(service.health.checks.map((check) => `${check.name}:${check.severity}`), ['health:fatal', 'home:warning']);

    const first = await demo.deploy();
    assert.match(first.stdout, /started pid \d+/);
    const initialPid = demo.runningPid();
    assert.ok(initialPid);
    const ok = await probeOnce(service.health.checks[0]!);
    assert.equal(ok.ok, true, ok.error?.message);

    const repo = new GitRepo({ path: service.git.path, branch: service.git.branch });
    await repo.fetch();
    const merge = await repo.mergeRef(demo.branches.broken);
    assert.equal(merge.previousHead, demo.initialCommit);
    await repo.push();
    const redeploy = await demo.deploy();
    assert.match(redeploy.stdout, new RegExp(`stopped pid ${initialPid}`), 'the deploy script replaced the old process');
    assert.equal(isRunning(initialPid), false);

    const broken = await runProbes(service.health.checks, { probes: service.health.probes, intervalMs: service.health.probeIntervalMs, consecutiveFailures: service.health.consecutiveFailures });
    assert.equal(broken.healthy, false);
    assert.deepEqual(broken.failedChecks, ['health']);
    const kinds = broken.checks[0]?.probes.map((probe) => probe.error?.kind) ?? [];
    assert.equal(kinds[0], 'connection-reset', 'the first probe crashes it');
    assert.ok(kinds.every((kind) => kind === 'connection-reset' || kind === 'connection-refused'), kinds.join());
    await waitFor('the crashed server to be gone', () => demo.runningPid() === undefined, 2_000);
    assert.equal((await probeOnce(service.health.checks[0]!)).error?.kind, 'connection-refused', 'then nothing listens (seed 000)');

    const revert = await repo.revertCommit(merge.mergeCommit, { deploymentId: 'demo-1' });
    await repo.push();
    await demo.deploy();
    const back = await runProbes(service.health.checks, { probes: 2, intervalMs: 50, consecutiveFailures: 2 });
    assert.equal(back.healthy, true, JSON.stringify(back.checks.map((check) => check.reasons)));
    assert.equal(await repo.remoteBranchSha(), revert.revertCommit);
  } finally {
    const pid = demo.runningPid();
    await demo.cleanup();
    if (pid) assert.equal(isRunning(pid), false, 'no server left running');
    assert.equal(existsSync(demo.root), false);
  }
});

test('the other scenarios: a crash on start fails the deploy command with its stderr, a flaky start fails one probe, a dependency outage is 503', async () => {
  const demo = await createDemoService({ dir: tempDir('agentbus-demo-'), name: 'router' });
  try {
    const service = demo.fleetConfig().services[0]!;
    await demo.deploy();
    const repo = new GitRepo({ path: demo.clonePath, branch: demo.branch });
    await repo.fetch();

    const crash = await repo.mergeRef(demo.branches.crashOnStart);
    await assert.rejects(demo.deploy(), (error) => {
      assert.ok(isFleetError(error, 'deploy-command-failed'));
      const result = error.details.result as DeployCommandResult;
      assert.match(result.stderr, /exited \(code 1\) before listening/);
      assert.match(result.stderr, /limits\.json/, 'the server\'s own error is in the deploy command\'s stderr');
      return true;
    });
    assert.equal(demo.runningPid(), undefined);
    await repo.revertCommit(crash.mergeCommit);

    await repo.mergeRef(demo.branches.flaky);
    await demo.deploy();
    const flaky = await runProbes(service.health.checks, { probes: 3, intervalMs: 20, consecutiveFailures: 2 });
    assert.equal(flaky.healthy, true);
    assert.deepEqual(flaky.checks[0]?.probes.map((probe) => probe.status), [500, 200, 200]);

    demo.setDependencyDown(true);
    const outage = await probeOnce(service.health.checks[0]!);
    assert.equal(outage.status, 503);
    assert.equal(outage.error?.kind, 'wrong-status');
    demo.setDependencyDown(false);
    assert.equal((await probeOnce(service.health.checks[0]!)).ok, true);

    const file = demo.writeFleetConfig(join(demo.root, 'agentbus.json'), { stabilizationMs: 1_500, strategy: 'redeploy-previous' });
    const loaded = loadFleetConfig(file).services[0]!;
    assert.equal(loaded.health.stabilizationMs, 1_500);
    assert.equal(loaded.rollback.strategy, 'redeploy-previous');
    assert.deepEqual(loaded.deploy, demo.deployCommand);
  } finally {
    await demo.cleanup();
  }
});

test('a server whose pid file is gone (its owner died without cleanup) exits on its own', async () => {
  const demo = await createDemoService({ dir: tempDir('agentbus-demo-'), name: 'orphan' });
  try {
    await demo.deploy();
    const pid = demo.runningPid();
    assert.ok(pid);
    await assert.rejects(createDemoService({ dir: join(demo.root, '..'), name: 'orphan' }), (error: Error & { code?: string }) => error.code === 'demo-exists');
    rmSync(join(demo.stateDir, 'service.pid'));
    await waitFor('the orphaned server to exit', () => !isRunning(pid), 3_000);
  } finally {
    await demo.cleanup();
  }
});

test('base: /api/route routes; the error-rate flag fails that share of it (upstream_timeout) while /health stays ok; /metrics passes promtool', async () => {
  const demo = await createDemoService({ dir: tempDir('agentbus-demo-'), name: 'metrics' });
  try {
    assert.equal(demo.apiUrl, `${demo.baseUrl}/api/route`);
    assert.equal(demo.metricsTarget, `127.0.0.1:${demo.port}`);
    assert.equal(demo.deployCommand.env?.DEMO_DEGRADE_AFTER_MS, undefined, 'unset: the server keeps its own default');
    await demo.deploy();
    const routed = await getJson(demo.apiUrl);
    assert.deepEqual([routed.status, routed.body], [200, { routed: true }]);
    assert.deepEqual(await routeStatuses(demo, 3), [200, 200, 200]);
    let text = await assertValidExposition(demo);
    assert.equal(sample(text, 'demo_errors_total{type="upstream_timeout"}'), 0, 'the one error type base can have is exposed from the start');

    demo.setErrorRate(0.25);
    assert.deepEqual(await routeStatuses(demo, 8), [200, 200, 200, 500, 200, 200, 200, 500], 'every 4th request, deterministically');
    const health = await getJson(demo.healthUrl);
    assert.deepEqual([health.status, (health.body as { status?: string }).status], [200, 'ok'], 'a pre-existing error rate does not show on /health');
    text = await assertValidExposition(demo);
    assert.equal(sample(text, 'demo_errors_total{type="upstream_timeout"}'), 2);
    assert.equal(sample(text, 'demo_http_requests_total{path="/api/route",code="500"}'), 2);
    assert.equal(sample(text, 'demo_http_requests_total{path="/api/route",code="200"}'), 10);
    assert.equal(await demo.requestCount('/api/route'), 12, 'requestCount still reads the requests counter');
    assert.equal(sample(text, 'demo_http_request_duration_seconds_count{path="/api/route"}'), 12);
    assert.equal(sample(text, 'demo_http_request_duration_seconds_bucket{path="/api/route",le="+Inf"}'), 12);
    const buckets = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '+Inf'].map((le) => sample(text, `demo_http_request_duration_seconds_bucket{path="/api/route",le="${le}"}`) ?? -1);
    assert.ok(buckets.every((count, i) => count >= 0 && (i === 0 || count >= buckets[i - 1]!)), `cumulative buckets: ${buckets.join()}`);
    assert.ok((sample(text, 'demo_http_request_duration_seconds_sum{path="/api/route"}') ?? -1) > 0);

    demo.setErrorRate(0);
    assert.equal(existsSync(join(demo.stateDir, 'error-rate')), false, '0 removes the flag');
    assert.deepEqual(await routeStatuses(demo, 5), [200, 200, 200, 200, 200]);
    for (const wrong of [1.5, -0.1, Number.NaN]) {
      assert.throws(() => demo.setErrorRate(wrong), (error: Error & { code?: string }) => error.code === 'demo-invalid-option' && /between 0 and 1/.test(error.message), String(wrong));
    }
    assert.equal(existsSync(join(demo.stateDir, 'error-rate')), false, 'a refused rate writes nothing');

    // The check above can fail: promtool rejects an exposition without its HELP lines.
    const withoutHelp = await promtoolCheck(text.split('\n').filter((line) => !line.startsWith('# HELP')).join('\n'));
    assert.notEqual(withoutHelp.code, 0, withoutHelp.output);
    assert.match(withoutHelp.output, /no help text/);
  } finally {
    await demo.cleanup();
  }
});

test('startTraffic: real requests every intervalMs, 500s and refused connections counted as failures, stop() waits and leaves no timer or socket', async () => {
  const demo = await createDemoService({ dir: tempDir('agentbus-demo-'), name: 'traffic' });
  try {
    assert.throws(() => demo.startTraffic({ intervalMs: 0 }), (error: Error & { code?: string }) => error.code === 'demo-invalid-option');
    await demo.deploy();
    demo.setErrorRate(0.5);
    const timersBefore = timers();
    assert.equal(connectionsTo(demo.port), 0);
    const traffic = demo.startTraffic({ intervalMs: 20 });
    await sleep(500);
    assert.equal(timers(), timersBefore + 1, 'while it runs, its timer is there');
    assert.ok(connectionsTo(demo.port) >= 1, 'and its keep-alive connection');
    const totals = await traffic.stop();
    assert.ok(totals.requests >= 10, `${totals.requests} requests in 500 ms at 20 ms`);
    assert.equal(totals.failures, Math.floor(totals.requests / 2), JSON.stringify(totals));
    assert.equal(timers(), timersBefore, 'stop() left a timer');
    assert.equal(connectionsTo(demo.port), 0, 'stop() left a connection open');
    assert.deepEqual(await traffic.stop(), totals, 'stop() again: the same totals');
    assert.equal(await demo.requestCount('/api/route'), totals.requests, 'every request it counted reached the server, and stop() waited for the last');

    demo.setErrorRate(0);
    const outage = demo.startTraffic({ intervalMs: 20 });
    await sleep(150);
    await demo.stop();
    await sleep(150);
    const across = await outage.stop();
    assert.ok(across.failures >= 1, `the stopped server refuses: ${JSON.stringify(across)}`);
    assert.ok(across.requests > across.failures, `it answered before it stopped: ${JSON.stringify(across)}`);

    await demo.deploy();
    const leftRunning = demo.startTraffic({ intervalMs: 20 });
    await sleep(100);
    await demo.cleanup();
    assert.equal(timers(), timersBefore, 'cleanup() stopped the traffic still running');
    assert.ok((await leftRunning.stop()).requests >= 1);
  } finally {
    if (existsSync(demo.root)) await demo.cleanup();
  }
});

test('errorSpike (feature/bulk-routing): every 2nd /api/route answers 500 upstream_timeout, /health stays ok', async () => {
  const demo = await createDemoService({ dir: tempDir('agentbus-demo-'), name: 'spike' });
  try {
    await demo.deploy();
    assert.deepEqual(await routeStatuses(demo, 4), [200, 200, 200, 200], 'base does not fail');
    await deployBranch(demo, demo.branches.errorSpike);
    assert.deepEqual(await routeStatuses(demo, 6), [200, 500, 200, 500, 200, 500]);
    await getJson(demo.apiUrl);
    const eighth = await getJson(demo.apiUrl);
    assert.deepEqual([eighth.status, eighth.body], [500, { error: 'upstream_timeout' }]);
    const health = await probeOnce(demo.fleetConfig().services[0]!.health.checks[0]!);
    assert.equal(health.ok, true, health.error?.message);
    const text = await assertValidExposition(demo);
    assert.equal(sample(text, 'demo_errors_total{type="upstream_timeout"}'), 4);
    assert.equal(sample(text, 'demo_http_requests_total{path="/api/route",code="500"}'), 4);
  } finally {
    await demo.cleanup();
  }
});

test('newErrorType (feature/channel-aliases): /api/route answers 200, every 5th counts alias_lookup_failed, a type base never has', async () => {
  const demo = await createDemoService({ dir: tempDir('agentbus-demo-'), name: 'aliases' });
  try {
    await demo.deploy();
    await routeStatuses(demo, 10);
    const base = await assertValidExposition(demo);
    assert.equal(sample(base, 'demo_errors_total{type="alias_lookup_failed"}'), undefined);
    await deployBranch(demo, demo.branches.newErrorType);
    assert.deepEqual(await routeStatuses(demo, 10), Array<number>(10).fill(200));
    const health = await probeOnce(demo.fleetConfig().services[0]!.health.checks[0]!);
    assert.equal(health.ok, true, health.error?.message);
    const text = await assertValidExposition(demo);
    assert.equal(sample(text, 'demo_errors_total{type="alias_lookup_failed"}'), 2);
    assert.equal(sample(text, 'demo_errors_total{type="upstream_timeout"}'), 0);
    assert.equal(sample(text, 'demo_http_requests_total{path="/api/route",code="500"}'), undefined);
  } finally {
    await demo.cleanup();
  }
});

test('slow (feature/route-cache): /api/route takes ~400 ms, seen in the latency histogram; /health stays ok', async () => {
  const demo = await createDemoService({ dir: tempDir('agentbus-demo-'), name: 'slow' });
  try {
    const le = (text: string, bound: string) => sample(text, `demo_http_request_duration_seconds_bucket{path="/api/route",le="${bound}"}`);
    await demo.deploy();
    await routeStatuses(demo, 3);
    const base = await assertValidExposition(demo);
    assert.equal(le(base, '0.25'), 3, 'base answers within 250 ms');
    await deployBranch(demo, demo.branches.slow);
    for (let i = 0; i < 3; i++) {
      const routed = await getJson(demo.apiUrl);
      assert.deepEqual([routed.status, routed.body], [200, { routed: true }]);
      assert.ok(routed.ms >= 380, `took ${Math.round(routed.ms)} ms`);
    }
    const health = await probeOnce(demo.fleetConfig().services[0]!.health.checks[0]!);
    assert.equal(health.ok, true, health.error?.message);
    const text = await assertValidExposition(demo);
    assert.equal(le(text, '0.25'), 0);
    assert.equal(le(text, '0.5'), 3);
    assert.ok((sample(text, 'demo_http_request_duration_seconds_sum{path="/api/route"}') ?? 0) >= 1.14);

    // Against a slow service, traffic stays a few requests deep (not one per tick) and stop() waits for those in flight.
    const traffic = demo.startTraffic({ intervalMs: 20 });
    await sleep(1_000);
    const totals = await traffic.stop();
    assert.ok(totals.requests >= 4 && totals.requests <= 16, `${totals.requests} requests of ~400 ms in 1 s at 20 ms: a few at a time, not 50`);
    assert.equal(totals.failures, 0);
    const burst = demo.startTraffic({ intervalMs: 20 });
    await sleep(100);
    const stopping = performance.now();
    const burstTotals = await burst.stop();
    const waited = performance.now() - stopping;
    assert.ok(waited >= 200, `stop() 100 ms after the first ~400 ms request returned after ${Math.round(waited)} ms: it waits for what is in flight`);
    assert.ok(burstTotals.requests >= 1 && burstTotals.failures === 0, JSON.stringify(burstTotals));
  } finally {
    await demo.cleanup();
  }
});

test('degradesLater (feature/connection-pool): healthy for degradeAfterMs, then /health 503 and every 2nd /api/route 500 pool_exhausted', async () => {
  await assert.rejects(createDemoService({ dir: tempDir('agentbus-demo-'), degradeAfterMs: -1 }), (error: Error & { code?: string }) => error.code === 'demo-invalid-option');
  const demo = await createDemoService({ dir: tempDir('agentbus-demo-'), name: 'pool', degradeAfterMs: 1_000 });
  try {
    assert.equal(demo.fleetConfig().services[0]!.deploy.env?.DEMO_DEGRADE_AFTER_MS, '1000', 'the registry entry gives the deploy command the delay');
    await demo.deploy();
    const repo = new GitRepo({ path: demo.clonePath, branch: demo.branch });
    await repo.fetch();
    await repo.mergeRef(demo.branches.degradesLater);
    await repo.push();
    const deployed = Date.now();
    await demo.deploy();
    const fresh = await getJson(demo.healthUrl);
    assert.deepEqual([fresh.status, (fresh.body as { status?: string }).status], [200, 'ok'], 'healthy right after the deploy');
    assert.deepEqual(await routeStatuses(demo, 4), [200, 200, 200, 200]);

    const degraded = await waitFor('/health to degrade', async () => {
      const health = await getJson(demo.healthUrl);
      return health.status === 503 ? health : undefined;
    }, 3_000);
    assert.ok(Date.now() - deployed >= 1_000, `degraded ${Date.now() - deployed} ms after the deploy began`);
    assert.deepEqual(degraded.body, { status: 'degraded', reason: 'connection pool exhausted' });
    assert.deepEqual(await routeStatuses(demo, 4), [200, 500, 200, 500]);
    const text = await assertValidExposition(demo);
    assert.equal(sample(text, 'demo_errors_total{type="pool_exhausted"}'), 2);
  } finally {
    await demo.cleanup();
  }
});
