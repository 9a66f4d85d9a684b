// End to end: what the platform does with a deployment's health. A broken merge is reverted (seed
// 000); one flaky probe reverts nothing; a service already unhealthy before the deploy is not
// "fixed" by reverting a good commit (seed 002, lesson 2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DemoBranches } from '@agentbus/demo';
import { probeOnce } from '@agentbus/health';
import { eventOf, getJson, startLoop, storyOf } from './harness.ts';

test('seed 000: a broken merge is reverted — origin ends with a revert of exactly that merge, the service is healthy, the manifest and the events tell the story', async (t) => {
  const loop = await startLoop();
  t.after(() => loop.stop());
  const { demo } = loop;

  const run = await loop.deploy(DemoBranches.broken);
  assert.equal(run.summary.outcome, 'rolled-back', loop.logTail());
  const events = await loop.events(run.taskId);
  const merged = eventOf(events, 'deploy.merged');
  const reverted = eventOf(events, 'rollback.reverted');
  assert.ok(merged && reverted?.data.revertCommit);
  const merge = merged.data.mergeCommit;
  const revert = reverted.data.revertCommit;

  // git itself: origin's branch is the revert, whose only parent is the merge, whose tree is the merge's first parent's tree.
  assert.equal(await loop.originHead(), revert);
  assert.equal(await loop.origin(['rev-list', '--parents', '-n', '1', revert]), `${revert} ${merge}`);
  assert.equal(await loop.origin(['rev-parse', `${merge}^1`]), demo.initialCommit);
  assert.equal(await loop.origin(['rev-parse', `${revert}^{tree}`]), await loop.origin(['rev-parse', `${merge}^1^{tree}`]), 'the revert restores the tree before the merge');
  assert.match(await loop.origin(['log', '-1', '--format=%B', revert]), new RegExp(`This reverts commit ${merge}`));
  assert.equal(await loop.origin(['rev-list', '--count', `${demo.initialCommit}..${revert}`, '--grep', 'This reverts commit']), '1', 'one revert, no more');
  assert.equal(await loop.clone(['rev-parse', 'HEAD']), revert, 'the clone runs the revert');
  assert.equal(await loop.clone(['status', '--porcelain']), '', 'and is clean');

  // The service answers healthy again, with the version from before the merge.
  const health = await probeOnce({ name: 'health', url: demo.healthUrl, expectJson: { status: 'ok' } });
  assert.equal(health.ok, true, health.error?.message);
  assert.equal((await getJson(demo.baseUrl))?.body.version, '1.0.0');

  // The release manifest: deployed, then rolled back, each version by the agent that did it.
  const history = await loop.manifests();
  assert.deepEqual(
    history.map((v) => [v.agent, v.manifest.status, v.manifest.commit]),
    [
      ['deployer', 'deployed', merge],
      ['rollback', 'rolled-back', revert],
    ],
  );
  const last = history.at(-1)!.manifest;
  assert.equal(last.deploymentId, run.taskId);
  assert.equal(last.mergeCommit, merge);
  assert.equal(last.previousCommit, demo.initialCommit);
  assert.equal(last.revertCommit, revert);
  assert.ok(last.rolledBackAt);

  // The events: the whole story once each, in order, under the deploy task's correlationId.
  assert.deepEqual(storyOf(events), ['deploy.merged', 'deploy.completed', 'health.failed', 'rollback.started', 'rollback.reverted', 'rollback.completed']);
  const failed = eventOf(events, 'health.failed')!;
  assert.equal(failed.data.baseline?.healthy, true, 'the baseline before the deploy was healthy');
  assert.deepEqual(failed.data.checks.filter((c) => !c.ok && c.severity === 'fatal').map((c) => c.name), ['health']);
  const completed = eventOf(events, 'rollback.completed')!;
  assert.equal(completed.data.restoredCommit, revert);
  assert.ok(completed.data.checks.every((c) => c.ok || c.severity === 'warning'));
  assert.equal(loop.deployRuns(), 2, 'the deploy command ran twice: the broken merge, then the revert');
  assert.deepEqual(await loop.deadLetters(), [], 'nothing was dead-lettered');
});

test('one failed probe among passing ones reverts nothing', async (t) => {
  const loop = await startLoop({ registry: { probes: 3, consecutiveFailures: 2 } });
  t.after(() => loop.stop());

  const run = await loop.deploy(DemoBranches.flaky);
  assert.equal(run.summary.outcome, 'healthy', loop.logTail());
  const events = await loop.events(run.taskId);
  const passed = eventOf(events, 'health.passed');
  assert.ok(passed);
  const health = passed.data.checks.find((c) => c.name === 'health')!;
  assert.deepEqual([health.ok, health.probes, health.failures, health.maxConsecutiveFailures], [true, 3, 1, 1], 'one probe failed (the cache warming up), the others passed');
  assert.deepEqual(storyOf(events), ['deploy.merged', 'deploy.completed', 'health.passed']);
  assert.equal(events.filter((e) => e.type.startsWith('rollback.') || e.type.startsWith('escalation.')).length, 0);
  const merge = eventOf(events, 'deploy.merged')!.data.mergeCommit;
  assert.equal(await loop.originHead(), merge, 'origin stays at the merge');
  assert.deepEqual((await loop.manifests()).map((v) => [v.manifest.status, v.manifest.commit]), [['deployed', merge]]);
  assert.equal(loop.deployRuns(), 1);
});

test('a service already unhealthy before the deploy: no revert, rollback.skipped (baseline-unhealthy) and an escalation', async (t) => {
  const loop = await startLoop({
    // An upstream dependency is down before agentbus looks: /health answers 503 in the baseline.
    beforeServices: (l) => l.demo.setDependencyDown(true),
  });
  t.after(() => loop.stop());

  const run = await loop.deploy(DemoBranches.good);
  assert.equal(run.summary.outcome, 'rollback-skipped', loop.logTail());
  await loop.waitForEvent(run.taskId, 'escalation.raised');
  const events = await loop.events(run.taskId);
  assert.deepEqual(storyOf(events), ['deploy.merged', 'deploy.completed', 'health.failed', 'rollback.skipped', 'escalation.raised']);
  const failed = eventOf(events, 'health.failed')!;
  assert.equal(failed.data.baseline?.healthy, false);
  const skipped = eventOf(events, 'rollback.skipped')!;
  assert.equal(skipped.data.reason, 'baseline-unhealthy');
  assert.match(skipped.data.detail, /already unhealthy before this deploy/);
  const escalation = eventOf(events, 'escalation.raised')!;
  assert.equal(escalation.data.kind, 'unattributed-failure');
  assert.equal(escalation.data.service, loop.demo.name);

  const merge = eventOf(events, 'deploy.merged')!.data.mergeCommit;
  assert.equal(await loop.originHead(), merge, 'the good commit is not reverted');
  assert.equal(await loop.origin(['log', '--format=%s', `${loop.demo.initialCommit}..${merge}`, '--grep', '^Revert']), '');
  assert.deepEqual((await loop.manifests()).map((v) => v.manifest.status), ['deployed']);
  assert.equal((await getJson(`${loop.demo.baseUrl}/status`))?.status, 200, 'the new version runs');
  assert.equal(loop.deployRuns(), 1, 'no redeploy');
});
