import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, waitFor } from '@agentbus/testkit';
import { GitRepo } from '@agentbus/git';
import { loadFleetConfig, isFleetError, type DeployCommandResult } from '@agentbus/fleet';
import { probeOnce, runProbes } from '@agentbus/health';
import { createDemoService, isRunning } from '@agentbus/demo';

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
