// End to end: production lockdown's drift scan (issue 14, part 1). The health monitor scans every
// production clone on a timer: a change made there by hand is told once (drift.detected and one
// drift escalation) however many scans see it, and resolved when it is undone; a commit pushed to
// origin around agentbus is reported with its author.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DemoBranches } from '@agentbus/demo';
import { runGit } from '@agentbus/git';
import { runCli, tempDir, waitFor } from '@agentbus/testkit';
import { startLoop, type Loop } from './harness.ts';

interface Told {
  type: string;
  kind: string;
  summary: string;
}

async function driftEvents(loop: Loop): Promise<Told[]> {
  return (await loop.eventsOn('events.drift.>')).map((event) => ({ type: event.type, ...(event.data as Omit<Told, 'type'>) }));
}

async function driftEscalations(loop: Loop): Promise<string[]> {
  return (await loop.eventsOn('events.escalation.raised')).filter((e) => e.data.kind === 'drift').map((e) => e.data.dedupKey as string);
}

test('a hand edit of the production clone is told once over many scans and resolved when undone; a commit pushed around agentbus is reported with its author', async (t) => {
  const loop = await startLoop({ env: { HEALTH_DRIFT_SCAN_MS: '300' } });
  t.after(() => loop.stop());
  const run = await loop.deploy(DemoBranches.good);
  assert.equal(run.summary.outcome, 'healthy');
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  assert.deepEqual(await driftEvents(loop), [], 'a clone only agentbus touched has no drift');

  // Someone edits a tracked file in production by hand.
  const tracked = (await loop.clone(['ls-files'])).split('\n')[0]!;
  const path = join(loop.demo.clonePath, tracked);
  const before = readFileSync(path, 'utf8');
  writeFileSync(path, `${before}// hotfix by hand\n`);
  await waitFor('the drift', async () => (await driftEvents(loop)).some((e) => e.type === 'drift.detected'), 10_000, 100);
  await new Promise((resolve) => setTimeout(resolve, 1_500)); // several more scans
  const detected = (await driftEvents(loop)).filter((e) => e.type === 'drift.detected');
  assert.deepEqual(detected.map((e) => e.kind), ['uncommitted-changes'], 'told once');
  assert.match(detected[0]!.summary, new RegExp(`uncommitted changes in its production clone: ${tracked.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assert.deepEqual(await driftEscalations(loop), [`agentbus.drift.${loop.demo.name}.uncommitted-changes`]);

  // The same on demand: `agentbus lockdown scan` exits 7 and names it.
  const scan = (args: string[] = []) => runCli(['lockdown', 'scan', ...args], { env: { ...loop.cliEnv, AGENTBUS_CONFIG: loop.configPath } });
  const dirty = await scan(['--json']);
  assert.equal(dirty.code, 7, dirty.stderr);
  assert.deepEqual(dirty.json<{ service: string; kind: string; evidence: { paths: string[] } }>().map((f) => [f.service, f.kind, f.evidence.paths]), [[loop.demo.name, 'uncommitted-changes', [tracked]]]);
  assert.match(dirty.stderr, /1 drift\(s\) found/);

  writeFileSync(path, before);
  const clean = await scan();
  assert.equal(clean.code, 0, clean.stderr);
  assert.equal(clean.stdout, `${loop.demo.name}: clean\n`);
  await waitFor('the drift resolved', async () => (await driftEvents(loop)).some((e) => e.type === 'drift.resolved' && e.kind === 'uncommitted-changes'), 10_000, 100);

  // Someone pushes to origin's branch from a clone of their own.
  const elsewhere = join(tempDir('agentbus-elsewhere-'), 'clone');
  const env = { GIT_AUTHOR_NAME: 'Night Owl', GIT_AUTHOR_EMAIL: 'owl@example.invalid', GIT_COMMITTER_NAME: 'Night Owl', GIT_COMMITTER_EMAIL: 'owl@example.invalid' };
  await runGit(['clone', '--quiet', loop.demo.originPath, elsewhere], { cwd: loop.dir, env });
  writeFileSync(join(elsewhere, 'HOTFIX'), 'pushed around agentbus\n');
  await runGit(['add', 'HOTFIX'], { cwd: elsewhere, env });
  await runGit(['commit', '--quiet', '-m', 'emergency fix'], { cwd: elsewhere, env });
  await runGit(['push', '--quiet', 'origin', `HEAD:${loop.demo.branch}`], { cwd: elsewhere, env });
  const foreign = await waitFor('the foreign commit', async () => (await driftEvents(loop)).find((e) => e.type === 'drift.detected' && e.kind === 'foreign-commits'), 10_000, 100);
  assert.match(foreign.summary, /1 commit\(s\) on its remote branch that no agentbus deploy or revert made \(the pipeline was bypassed\): [0-9a-f]+ by Night Owl <owl@example\.invalid> \("emergency fix"\)/);
});

test('a deploy onto a clone changed by hand fails at stage drift with an escalation, merging nothing; the change is still there afterwards', async (t) => {
  const loop = await startLoop({ registry: { followupOffsetsMs: [] } });
  t.after(() => loop.stop());
  const tracked = (await loop.clone(['ls-files'])).split('\n')[0]!;
  const path = join(loop.demo.clonePath, tracked);
  const edited = `${readFileSync(path, 'utf8')}// edited in production\n`;
  writeFileSync(path, edited);
  const before = await loop.originHead();

  const run = await loop.deploy(DemoBranches.good);
  assert.equal(run.summary.outcome, 'deploy-failed');
  const failed = run.events.find((e) => e.type === 'deploy.failed');
  assert.equal((failed?.data as { stage: string }).stage, 'drift');
  assert.match((failed?.data as { error: string }).error, new RegExp(`was changed outside agentbus \\(uncommitted changes in ${tracked.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\): nothing was merged and nothing was discarded`));
  const raised = await loop.waitForEvent(run.taskId, 'escalation.raised');
  assert.equal((raised.data as { kind: string }).kind, 'drift', 'a human is asked');
  assert.equal(readFileSync(path, 'utf8'), edited, 'the hand edit is still there');
  assert.equal(await loop.originHead(), before, 'nothing was merged or pushed');
});
