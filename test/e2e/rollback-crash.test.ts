// End to end: the rollback service dies (SIGKILL) in the middle of a rollback. After the
// health.failed event is redelivered to a fresh rollback process, origin has exactly one revert
// of the merge: never two, never none. The rollback runs as its own process (`node
// services/rollback`); the deployer and the health monitor run in the test process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DemoBranches, isRunning } from '@agentbus/demo';
import { probeOnce } from '@agentbus/health';
import { agentbusConsumers } from '@agentbus/streams';
import { waitFor } from '@agentbus/testkit';
import { eventOf, killGroup, startLoop, storyOf, type Loop } from './harness.ts';

/** A short ack_wait on the rollback consumer, so the killed process's delivery comes back in seconds, not a minute. */
const fastRedelivery = agentbusConsumers.filter((c) => c.durable === 'rollback').map((c) => ({ ...c, ackWaitMs: 2_000 }));

async function startCrashLoop(): Promise<Loop> {
  return startLoop({ inProcess: ['deployer', 'health-monitor'], consumers: fastRedelivery });
}

/** Reverts of `merge` in origin's branch history, counted by git itself. */
async function revertsOnOrigin(loop: Loop, merge: string): Promise<string[]> {
  const out = await loop.origin(['rev-list', '--fixed-strings', `--grep=This reverts commit ${merge}`, `refs/heads/${loop.demo.branch}`]);
  return out.split('\n').filter(Boolean);
}

/** After a second rollback process finished the job: one revert on origin, the story told once, the service healthy. */
async function assertRolledBackOnce(loop: Loop, taskId: string): Promise<void> {
  const events = await loop.events(taskId);
  assert.deepEqual(storyOf(events), ['deploy.merged', 'deploy.completed', 'health.failed', 'rollback.started', 'rollback.reverted', 'rollback.completed'], 'each step announced once');
  const merge = eventOf(events, 'deploy.merged')!.data.mergeCommit;
  const revert = eventOf(events, 'rollback.completed')!.data.revertCommit;
  assert.deepEqual(await revertsOnOrigin(loop, merge), [revert], 'exactly one revert of the merge on origin');
  assert.equal(await loop.originHead(), revert);
  assert.equal(await loop.origin(['rev-parse', `${revert}^1`]), merge);
  assert.equal(await loop.clone(['rev-parse', 'HEAD']), revert);
  assert.equal(await loop.clone(['status', '--porcelain']), '');
  assert.deepEqual((await loop.manifests()).map((v) => [v.manifest.status, v.manifest.commit]), [['deployed', merge], ['rolled-back', revert]]);
  const health = await probeOnce({ name: 'health', url: loop.demo.healthUrl, expectJson: { status: 'ok' } });
  assert.equal(health.ok, true, health.error?.message);
}

test('SIGKILL while the rollback redeploys (revert pushed, deploy command running): after redelivery exactly one revert exists and the service is healthy', async (t) => {
  const loop = await startCrashLoop();
  t.after(() => loop.stop());
  // Deploy-command run 1 is the broken deploy, run 2 the rollback's redeploy: hold that one.
  loop.holdDeployRun(2);
  const first = await loop.spawnService('rollback');
  const outcome = loop.deploy(DemoBranches.broken, { timeoutMs: 60_000 });

  const heldPid = await waitFor('the rollback to be inside its redeploy', () => loop.heldDeployPid(2), 30_000, 20);
  const taskId = await loop.latestDeployment();
  const before = await loop.events(taskId);
  assert.deepEqual(storyOf(before).slice(-2), ['rollback.started', 'rollback.reverted'], 'killed after the revert was pushed');
  const merge = eventOf(before, 'deploy.merged')!.data.mergeCommit;
  assert.equal((await revertsOnOrigin(loop, merge)).length, 1);

  first.child.kill('SIGKILL');
  assert.equal(await first.exited, 'SIGKILL');
  killGroup(heldPid); // the host went down with it: its deploy command too
  loop.releaseDeployRun(2);

  await loop.spawnService('rollback');
  const run = await outcome;
  assert.equal(run.taskId, taskId);
  assert.equal(run.summary.outcome, 'rolled-back', loop.logTail());
  await assertRolledBackOnce(loop, taskId);
  assert.equal(loop.deployRuns(), 3, 'the broken deploy, the killed redeploy, the redeploy after redelivery');
});

for (const pushLands of [false, true]) {
  test(`SIGKILL while the revert is being pushed (${pushLands ? 'the push lands after the agent died' : 'the push never lands'}): after redelivery exactly one revert exists`, async (t) => {
    const loop = await startCrashLoop();
    t.after(() => loop.stop());
    // origin holds a push of a revert until told, then accepts or refuses it (once).
    const held = join(loop.dir, 'push-held');
    const release = join(loop.dir, 'push-release');
    loop.originHook(
      'pre-receive',
      [
        'while read old new ref; do',
        `  if [ ! -e '${held}' ] && git log -1 --format=%B "$new" | grep -q 'This reverts commit'; then`,
        `    echo $$ > '${held}'`,
        `    while [ ! -e '${release}' ]; do sleep 0.02; done`,
        `    exit "$(cat '${release}')"`,
        '  fi',
        'done',
        'exit 0',
      ].join('\n'),
    );
    const first = await loop.spawnService('rollback');
    const outcome = loop.deploy(DemoBranches.broken, { timeoutMs: 60_000 });

    const hookPid = await waitFor('the revert push to reach origin\'s hook', () => (existsSync(held) ? Number(readFileSync(held, 'utf8').trim()) : 0), 30_000, 20);
    const taskId = await loop.latestDeployment();
    const merge = eventOf(await loop.events(taskId), 'deploy.merged')!.data.mergeCommit;
    assert.match(await loop.clone(['log', '-1', '--format=%B', 'HEAD']), new RegExp(`This reverts commit ${merge}`), 'the revert is committed in the clone');
    assert.deepEqual(await revertsOnOrigin(loop, merge), [], 'and not on origin yet');

    first.child.kill('SIGKILL');
    assert.equal(await first.exited, 'SIGKILL');
    writeFileSync(release, pushLands ? '0' : '1');
    // The orphaned git push goes on without its agent; wait until origin has answered it.
    await waitFor('origin to answer the orphaned push', async () => !isRunning(hookPid) && (await revertsOnOrigin(loop, merge)).length === (pushLands ? 1 : 0), 10_000, 20);

    await loop.spawnService('rollback');
    const run = await outcome;
    assert.equal(run.summary.outcome, 'rolled-back', loop.logTail());
    await assertRolledBackOnce(loop, taskId);
    assert.equal(loop.deployRuns(), 2, 'the broken deploy and one redeploy: the killed process never got to redeploy');
  });
}
