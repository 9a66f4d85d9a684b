// End to end: never the same bad change twice (issue 12, section 2). A merge agentbus reverted is
// quarantined by the patch id of its change; the same change again on a new branch is refused
// before anything is merged, naming the incident that reverted it; deploying it on purpose
// (allowReverted) is recorded in deploy.merged; a changed fix deploys normally.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quarantineSchema } from '@agentbus/contracts';
import { DemoBranches, serverSource } from '@agentbus/demo';
import { runCli } from '@agentbus/testkit';
import { eventOf, startLoop } from './harness.ts';

test('a reverted change is refused when it comes back unchanged, deployed again only when asked (recorded), and a changed fix deploys', async (t) => {
  const loop = await startLoop({ registry: { followupOffsetsMs: [] } });
  t.after(() => loop.stop());
  const { demo } = loop;
  const first = await loop.deploy(DemoBranches.broken);
  assert.equal(first.summary.outcome, 'rolled-back', loop.logTail());

  const shown = await runCli(['state', 'get', `quarantine/${demo.name}`, '--json'], { env: loop.cliEnv });
  assert.equal(shown.code, 0, shown.stderr);
  const quarantine = quarantineSchema.parse(shown.json<{ data: unknown }>()[0]!.data);
  assert.deepEqual(quarantine.changes.map((c) => [c.ref, c.incidentId, c.mergeCommit]), [[DemoBranches.broken, first.taskId, eventOf(first.events, 'deploy.merged')!.data.mergeCommit]]);

  // The same change, made again by an agent on a fresh branch off the reverted main: other commits, the same patch.
  await loop.pushBranch('feature/humanrail-again', { 'server.mjs': serverSource(demo.name, 'broken') });
  const headBefore = await loop.originHead();
  const runsBefore = loop.deployRuns();
  const refused = await loop.deploy('feature/humanrail-again');
  assert.equal(refused.summary.outcome, 'deploy-failed');
  const failed = eventOf(await loop.events(refused.taskId), 'deploy.failed')!;
  assert.equal(failed.data.stage, 'quarantine');
  assert.equal(failed.data.pushed, false);
  assert.match(failed.data.error, new RegExp(`^feature/humanrail-again makes the same change as ${DemoBranches.broken}, which agentbus reverted on ${demo.name} at .* \\(incident ${first.taskId}, merge [0-9a-f]{12}: health check failed after deploy`));
  assert.equal(await loop.originHead(), headBefore, 'nothing merged or pushed');
  assert.equal(loop.deployRuns(), runsBefore, 'the deploy command did not run');

  // A dry run says so, and changes nothing either.
  const plan = await loop.deploy('feature/humanrail-again', { dryRun: true });
  assert.equal(plan.summary.outcome, 'planned');
  assert.equal(eventOf(plan.events, 'deploy.planned')?.data.steps[0], `feature/humanrail-again makes the same change agentbus reverted in incident ${first.taskId}: the deploy would be refused before merging (allowReverted deploys it anyway)`);

  // On purpose: deployed (and, being broken, reverted again), the override on the bus.
  const again = await loop.deploy('feature/humanrail-again', { allowReverted: true });
  assert.equal(again.summary.outcome, 'rolled-back', loop.logTail());
  assert.deepEqual(eventOf(again.events, 'deploy.merged')?.data.allowedReverted?.incidentId, first.taskId);

  // A changed fix has another patch: it deploys normally.
  await loop.pushBranch('feature/humanrail-fixed', { 'server.mjs': serverSource(demo.name, 'good') });
  const fixed = await loop.deploy('feature/humanrail-fixed');
  assert.equal(fixed.summary.outcome, 'healthy', loop.logTail());
  assert.equal(eventOf(fixed.events, 'deploy.merged')?.data.allowedReverted, undefined);

  // Bad input: an unknown ref is named by the merge, as without a quarantine; a document that is not a quarantine stops the deploy, saying so.
  const unknown = await loop.deploy('feature/does-not-exist');
  assert.deepEqual([unknown.summary.outcome, eventOf(unknown.events, 'deploy.failed')?.data.stage], ['deploy-failed', 'merge']);
  const written = await runCli(['state', 'put', `quarantine/${demo.name}`, '--data', '{"service":"primerouter","changes":"none"}', '--reason', 'by hand'], { env: loop.cliEnv });
  assert.equal(written.code, 0, written.stderr);
  const blocked = await loop.deploy(DemoBranches.flaky);
  const stopped = eventOf(blocked.events, 'deploy.failed');
  assert.equal(stopped?.data.stage, 'quarantine');
  assert.match(stopped.data.error, new RegExp(`^quarantine/${demo.name} is not a quarantine document \\(changes: .*\\), so agentbus cannot tell whether ${DemoBranches.flaky} was reverted before; nothing was merged`));

  // A quarantine changed past the state store (its data no longer matches its hash) is never acted on.
  const record = { envelope: { number: await loop.tamperHead(`quarantine/${demo.name}`, (data) => void (data.changes = [])) } };
  const headBefore2 = await loop.originHead();
  const tampered = await loop.deploy(DemoBranches.flaky);
  const refusedTampered = eventOf(tampered.events, 'deploy.failed');
  assert.equal(refusedTampered?.data.stage, 'quarantine');
  assert.match(refusedTampered.data.error, new RegExp(`^quarantine/${demo.name} fails verification: version ${record.envelope.number}'s data was changed after it was written`));
  assert.equal(await loop.originHead(), headBefore2, 'nothing merged');
});
