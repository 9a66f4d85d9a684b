// End to end through the operator's command, as a person runs it: `agentbus deploy --wait`,
// `agentbus demo --json` and `agentbus up` (then Ctrl-C).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';
import { serviceNames } from '@agentbus/platform';
import { DemoBranches, isRunning } from '@agentbus/demo';
import { jetstreamManager } from '@nats-io/jetstream';
import { AGENTBUS_BIN, runCli, startNats, tempDir, waitFor } from '@agentbus/testkit';
import { getJson, startLoop } from './harness.ts';

test('agentbus deploy --wait: a broken branch exits 3 naming the rollback, a good one exits 0', async (t) => {
  const loop = await startLoop();
  t.after(() => loop.stop());
  const env = loop.cliEnv;

  const broken = await runCli(['deploy', loop.demo.name, '--ref', DemoBranches.broken, '--wait', '--timeout-ms', '60000'], { env });
  assert.equal(broken.code, 3, broken.stderr);
  assert.match(broken.stdout, /git revert -m 1 [0-9a-f]{12} → [0-9a-f]{12}; pushed, remote verified/, 'the progress is shown');
  assert.match(broken.stdout, new RegExp(`${loop.demo.name}: rolled-back — the deploy did not end healthy`));

  const good = await runCli(['deploy', loop.demo.name, '--ref', DemoBranches.good, '--wait', '--timeout-ms', '60000', '--json'], { env });
  assert.equal(good.code, 0, good.stderr);
  const result = good.json<{ result?: { outcome: string; mergeCommit: string } }>().find((line) => line.result)?.result;
  assert.equal(result?.outcome, 'healthy');
  assert.equal(await loop.originHead(), result?.mergeCommit);
  assert.equal((await getJson(`${loop.demo.baseUrl}/status`))?.status, 200, 'the good change is live');
});

test('agentbus demo --json: one object with the outcome and the durations; the NATS server of NATS_URL is not touched', async (t) => {
  const server = await startNats();
  t.after(() => server.stop());
  const demo = await runCli(['demo', '--json'], { env: { NATS_URL: server.url }, timeoutMs: 90_000 });
  assert.equal(demo.code, 0, demo.stderr);
  const lines = demo.json<Record<string, unknown>>();
  assert.equal(lines.length, 1, 'one JSON object');
  const result = lines[0]!;
  assert.equal(result.outcome, 'rolled-back');
  assert.equal(result.service, 'primerouter');
  assert.match(String(result.mergeCommit), /^[0-9a-f]{40}$/);
  assert.match(String(result.revertCommit), /^[0-9a-f]{40}$/);
  assert.notEqual(result.mergeCommit, result.revertCommit);
  assert.equal(result.originHead, result.revertCommit);
  assert.equal(result.originHeadRevertsMerge, true);
  assert.equal(result.serviceHealthy, true);
  const durations = ['detectedMs', 'revertedMs', 'healthyMs', 'platformMs'].map((key) => result[key]);
  for (const value of durations) assert.equal(typeof value, 'number');
  const [detected, reverted, healthy] = durations as number[];
  assert.ok(detected! <= reverted! && reverted! <= healthy!, `detected ≤ reverted ≤ healthy: ${durations.join(', ')}`);

  const nc = await connect({ servers: server.url });
  t.after(() => nc.close());
  const streams: string[] = [];
  for await (const name of (await jetstreamManager(nc)).streams.names()) streams.push(name);
  assert.deepEqual(streams, [], 'the demo ran on its own server: not even a stream was created on this one');
});

test('agentbus up: a ready line per service with a metrics URL that answers, the services deploy, and Ctrl-C stops every one of them cleanly', async (t) => {
  const loop = await startLoop({ inProcess: [] });
  t.after(() => loop.stop());
  const up = spawn(process.execPath, [AGENTBUS_BIN, 'up'], {
    cwd: tempDir('agentbus-up-'),
    env: { ...process.env, ...loop.cliEnv, AGENTBUS_CONFIG: loop.configPath, LOG_LEVEL: 'debug', HEALTH_WATCH_INTERVAL_MS: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | string>((resolve) => up.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const childrenOf = (pid: number) => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  t.after(() => {
    // Only when the test failed half-way: leave no service process behind.
    if (up.exitCode !== null || up.signalCode !== null) return;
    for (const pid of childrenOf(up.pid!)) process.kill(pid, 'SIGKILL');
    up.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  up.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  up.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

  await waitFor('agentbus up to be up', () => {
    if (up.exitCode !== null) throw new Error(`agentbus up exited ${up.exitCode}: ${stderr}`);
    return stdout.includes('agentbus is up.');
  }, 60_000, 50);
  const ready = [...stdout.matchAll(/^(\S+)\s+ready\s+metrics (http:\/\/127\.0\.0\.1:\d+\/metrics)\s+log (\S+)$/gm)].map((m) => ({ name: m[1]!, metrics: m[2]!, log: m[3]! }));
  assert.deepEqual(ready.map((r) => r.name), serviceNames, stdout);
  for (const service of ready) {
    const response = await fetch(service.metrics);
    assert.equal(response.status, 200, service.metrics);
    assert.match(await response.text(), /^# HELP /m);
  }
  const children = childrenOf(up.pid!);
  assert.equal(children.length, serviceNames.length, 'one process per service');

  // The services `up` started do the work.
  const run = await loop.deploy(DemoBranches.broken);
  assert.equal(run.summary.outcome, 'rolled-back', ready.map((r) => readFileSync(r.log, 'utf8').split('\n').slice(-10).join('\n')).join('\n'));

  up.kill('SIGINT');
  assert.equal(await exited, 0, stderr);
  assert.match(stdout, /SIGINT: stopping the services/);
  assert.match(stdout, /stopped\.\n$/);
  for (const pid of children) assert.equal(isRunning(pid), false, `service process ${pid} is gone`);
  for (const service of ready) assert.match(readFileSync(service.log, 'utf8'), new RegExp(`"msg":"${service.name} stopped"`), `${service.name} drained and stopped`);
});
