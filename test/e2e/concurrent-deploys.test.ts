// End to end: two deploy tasks for one service at the same time. The per-service lease makes the
// second wait for the first (its deploy and its health verdict); neither corrupts the other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DemoBranches } from '@agentbus/demo';
import { eventOf, getJson, startLoop, storyOf } from './harness.ts';

test('two deploys of one service at once: the lease serializes them, both end healthy, the merges are sequential on origin and the manifest has both', async (t) => {
  // A stabilization window long enough that a second deploy not held off by the lease would land inside it.
  const loop = await startLoop({ registry: { stabilizationMs: 1_000 } });
  t.after(() => loop.stop());
  const { demo } = loop;
  // A second change that touches other files than the first, so both can merge.
  await loop.pushBranch('feature/runbook', { 'docs/RUNBOOK.md': '# Runbook\n\nRestart with the deploy command.\n' });

  const [a, b] = await Promise.all([loop.deploy(DemoBranches.good), loop.deploy('feature/runbook')]);
  assert.equal(a.summary.outcome, 'healthy', loop.logTail());
  assert.equal(b.summary.outcome, 'healthy', loop.logTail());

  const runs = await Promise.all([a, b].map(async (run) => ({ run, events: await loop.events(run.taskId) })));
  for (const { events } of runs) assert.deepEqual(storyOf(events), ['deploy.merged', 'deploy.completed', 'health.passed']);
  const mergedAt = (events: (typeof runs)[number]['events']) => eventOf(events, 'deploy.merged')!.seq;
  const [first, second] = [...runs].sort((x, y) => mergedAt(x.events) - mergedAt(y.events));
  const firstMerge = eventOf(first!.events, 'deploy.merged')!.data;
  const secondMerge = eventOf(second!.events, 'deploy.merged')!.data;

  // Serialized: the second deploy was taken while the first was still going, and merged only after the first had deployed.
  const secondStarted = second!.events.find((e) => e.type === 'task.started')!;
  const firstCompleted = eventOf(first!.events, 'deploy.completed')!;
  assert.ok(secondStarted.seq < firstCompleted.seq, 'both tasks were in the deployer at once');
  assert.ok(firstCompleted.seq < eventOf(second!.events, 'deploy.merged')!.seq, 'the second merged only after the first was deployed');
  // ...and judged: the lease covers the health verdict, so the second never restarts the service under the first's probes.
  assert.ok(eventOf(first!.events, 'health.passed')!.seq < eventOf(second!.events, 'deploy.merged')!.seq, 'the second merged only after the first was judged healthy');

  // Sequential merges on origin: initial ← first merge ← second merge, each with its own change as second parent.
  assert.equal(await loop.originHead(), secondMerge.mergeCommit);
  assert.equal(firstMerge.previousCommit, demo.initialCommit);
  assert.equal(secondMerge.previousCommit, firstMerge.mergeCommit);
  assert.equal(await loop.origin(['rev-parse', `${secondMerge.mergeCommit}^1`]), firstMerge.mergeCommit);
  assert.equal(await loop.origin(['rev-parse', `${firstMerge.mergeCommit}^1`]), demo.initialCommit);
  assert.equal(await loop.origin(['rev-list', '--count', '--merges', `${demo.initialCommit}..${secondMerge.mergeCommit}`]), '2');
  assert.equal(await loop.clone(['status', '--porcelain']), '');

  // Both changes are live, and each deploy was run exactly once.
  assert.equal((await getJson(`${demo.baseUrl}/status`))?.status, 200, 'feature/status-endpoint is live');
  assert.match(await loop.clone(['show', 'HEAD:docs/RUNBOOK.md']), /Runbook/);
  assert.equal(loop.deployRuns(), 2);

  // The manifest history has both, in merge order, each pointing at the one before.
  const history = await loop.manifests();
  assert.deepEqual(
    history.map((v) => [v.manifest.deploymentId, v.manifest.status, v.manifest.commit, v.manifest.previousCommit]),
    [
      [first!.run.taskId, 'deployed', firstMerge.mergeCommit, demo.initialCommit],
      [second!.run.taskId, 'deployed', secondMerge.mergeCommit, firstMerge.mergeCommit],
    ],
  );
  assert.deepEqual(await loop.deadLetters(), []);
});
