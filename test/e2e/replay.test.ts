// End to end: "a redelivered or replayed message never repeats a merge, a revert or a deploy".
// After seed 000 has run its course, an operator replays everything (agentbus replay
// --republish does exactly this): every task and every event goes to its consumers again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Publisher, readStream, republish } from '@agentbus/bus';
import { agentbusRegistry, StreamNames } from '@agentbus/contracts';
import { DemoBranches } from '@agentbus/demo';
import { eventOf, startLoop } from './harness.ts';

test('replaying a finished incident (its deploy task and every event) repeats no merge, no revert, no deploy and no manifest version', async (t) => {
  const loop = await startLoop();
  t.after(() => loop.stop());
  const run = await loop.deploy(DemoBranches.broken);
  assert.equal(run.summary.outcome, 'rolled-back', loop.logTail());
  await loop.waitUntilConsumed();
  const merge = run.summary.mergeCommit!;
  const revert = run.summary.revertCommit!;
  const before = await loop.events(run.taskId);

  const publisher = new Publisher(loop.nc, { registry: agentbusRegistry, source: 'e2e-replay' });
  const resent: string[] = [];
  for (const stream of [StreamNames.tasks, StreamNames.events]) {
    for await (const stored of readStream(loop.nc, { stream, fromSeq: 1 })) resent.push((await republish(publisher, stored)).type);
  }
  assert.ok(resent.includes('deployer.deploy') && resent.includes('deploy.completed') && resent.includes('health.failed'), resent.join());
  await loop.waitUntilConsumed();

  const after = await loop.events(run.taskId);
  assert.equal(after.length, before.length * 2, 'the copies were delivered (and stored once each)');
  assert.deepEqual(new Set(after.map((e) => e.id)), new Set(before.map((e) => e.id)), 'and no handler announced anything new');
  assert.equal(await loop.originHead(), revert);
  assert.equal(await loop.origin(['rev-list', '--count', '--merges', `${loop.demo.initialCommit}..${revert}`]), '1', 'one merge');
  assert.equal(await loop.origin(['rev-list', '--count', '--fixed-strings', `--grep=This reverts commit ${merge}`, revert]), '1', 'one revert');
  assert.equal(loop.deployRuns(), 2, 'the deploy and the rollback\'s redeploy, nothing more');
  assert.deepEqual((await loop.manifests()).map((v) => v.manifest.status), ['deployed', 'rolled-back']);
  assert.equal(eventOf(after, 'rollback.completed')?.data.revertCommit, revert);
  assert.deepEqual(await loop.deadLetters(), []);
});
