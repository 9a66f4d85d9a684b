// End to end: running releases from the CLI — a dry run that changes nothing, releases and deploys
// of one service serialized (of others side by side), bad input refused before anything is merged,
// follow-ups for every promoted step, and an abort before the next step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { readStream } from '@agentbus/bus';
import { releaseRunPath, releaseRunSchema, StreamNames, type ReleaseRun } from '@agentbus/contracts';
import { DemoBranches } from '@agentbus/demo';
import { FollowupStore } from '@agentbus/health';
import type { IncidentEvent } from '@agentbus/incident';
import { deployAndFollow, releaseAndFollow, requestRelease } from '@agentbus/platform';
import { openStateBackend, StateStore } from '@agentbus/state';
import { runCli } from '@agentbus/testkit';
import { startLoop, type Loop } from './harness.ts';

async function stateOf(loop: Loop): Promise<StateStore> {
  return new StateStore({ backend: await openStateBackend({ backend: 'nats-kv', nc: loop.nc }), agent: 'e2e-test' });
}

const cli = (loop: Loop, args: string[]) => runCli(args, { env: loop.cliEnv, timeoutMs: 90_000 });
type Completed = Extract<IncidentEvent, { type: 'release.completed' }>;

/** What a dry run must leave as it found it: every ref of origins and clones, the clones' work trees, the deploy commands' runs, every document, the timers and follow-ups. */
async function snapshot(loop: Loop) {
  const refs = ['for-each-ref', '--format=%(refname) %(objectname)'];
  const repos = [];
  for (const service of loop.services) {
    repos.push({ origin: await service.origin(refs), clone: await service.clone(refs), head: await service.clone(['rev-parse', 'HEAD']), tree: await service.clone(['status', '--porcelain', '--ignored']), runs: service.deployRuns() });
  }
  const store = await stateOf(loop);
  const documents: Record<string, string> = {};
  for (const path of await store.listDocuments()) documents[path] = (await store.get(path)).envelope.hash;
  const jsm = await jetstreamManager(loop.nc);
  const schedule = (await jsm.streams.info(StreamNames.schedule)).state;
  const followups = await (await FollowupStore.open(loop.nc)).list();
  return { repos, documents, timers: { messages: schedule.messages, lastSeq: schedule.last_seq }, followups };
}

async function lastSeq(loop: Loop, stream: string): Promise<number> {
  return (await (await jetstreamManager(loop.nc)).streams.info(stream)).state.last_seq;
}

async function storedSince(loop: Loop, stream: string, fromSeq: number): Promise<Array<{ type: string; correlationId: string; data: { dryRun?: boolean } }>> {
  const found = [];
  for await (const stored of readStream(loop.nc, { stream, fromSeq })) found.push(JSON.parse(new TextDecoder().decode(stored.data)) as { type: string; correlationId: string; data: { dryRun?: boolean } });
  return found;
}

test('a dry run of a release prints every step and changes nothing: origins, clones, documents, timers and follow-ups as they were; only the plan on the bus', async (t) => {
  const loop = await startLoop({ services: ['api', 'web'], registry: { followupOffsetsMs: [3_600_000] } });
  t.after(() => loop.stop());
  await loop.deploy(DemoBranches.good); // something to keep: a manifest, follow-ups, a timer
  await loop.waitUntilConsumed();
  const before = await snapshot(loop);
  const [eventsFrom, tasksFrom] = [(await lastSeq(loop, StreamNames.events)) + 1, (await lastSeq(loop, StreamNames.tasks)) + 1];

  const planned = await cli(loop, ['release', 'start', '--step', `api=${DemoBranches.flaky}`, '--step', `web=${DemoBranches.good}`, '--guard-ms', '500', '--rollback-scope', 'release', '--dry-run', '--wait']);
  assert.equal(planned.code, 0, planned.stderr + planned.stdout);
  const releaseId = /^release (\S+) \(dry run: nothing was changed\)$/m.exec(planned.stdout)?.[1];
  assert.ok(releaseId, planned.stdout);
  const webHead = (await loop.services[1]!.originHead()).slice(0, 12);
  for (const line of [
    `step 1/2: api ${DemoBranches.flaky}`,
    `step 2/2: web ${DemoBranches.good}`,
    `  - merge ${DemoBranches.good} (`,
    `into main at ${webHead} as a merge commit`,
    '  - after a 0 ms stabilization window, judge HTTP checks health (3 probes 50 ms apart)',
    '  - guard window: 500 ms after the verdict, judge api again (the +500 ms check); only then step 2',
    '  - follow-up checks at +1 h after the verdict',
    'final check: api, web',
    '  - if step 2 (web) fails its verdict or guard window: roll web back (git revert of its merge, push, verify the remote, redeploy, re-probe until healthy), then step 1 (api), newest first',
    '  - if the final check fails on exactly one service of the release: every step is rolled back, newest first',
  ]) assert.ok(planned.stdout.includes(line), `the plan says "${line}":\n${planned.stdout}`);

  await loop.waitUntilConsumed();
  assert.deepEqual(await snapshot(loop), before, 'nothing changed');
  const events = await storedSince(loop, StreamNames.events, eventsFrom);
  assert.ok(events.length > 0);
  assert.deepEqual([...new Set(events.map((e) => e.correlationId))], [releaseId], 'every new event is the dry run\'s');
  assert.deepEqual([...new Set(events.map((e) => e.type).filter((type) => !type.startsWith('task.')))].sort(), ['deploy.planned', 'release.planned']);
  const tasks = await storedSince(loop, StreamNames.tasks, tasksFrom);
  assert.deepEqual(tasks.map((task) => [task.type, task.data.dryRun]), [['release.start', true], ['deployer.deploy', true], ['deployer.deploy', true]]);
});

test("a service's deploy waits for a release that holds it; a release of other services runs beside it", async (t) => {
  const loop = await startLoop({ services: ['api', 'web'], registry: { followupOffsetsMs: [] } });
  t.after(() => loop.stop());
  const [api] = loop.services as [typeof loop];
  const slow = await requestRelease(loop.nc, { requestedBy: 'e2e-test', steps: [{ service: 'api', ref: DemoBranches.good, guardMs: 2_500 }] }, { source: 'e2e-test' });
  await loop.waitForEvent(slow.releaseId, 'release.step-started');
  await api.pushBranch('feature/api-readme', { 'README.md': '# api\n\nRead me.\n' });
  const [deploy, beside] = await Promise.all([
    deployAndFollow(loop.nc, { service: 'api', ref: 'feature/api-readme', requestedBy: 'e2e-test' }, { timeoutMs: 60_000, source: 'e2e-test' }),
    releaseAndFollow(loop.nc, { requestedBy: 'e2e-test', steps: [{ service: 'web', ref: DemoBranches.good, guardMs: 0 }] }, { timeoutMs: 60_000, source: 'e2e-test' }),
  ]);
  const slowEnd = (await loop.waitForEvent(slow.releaseId, 'release.completed')) as Completed;
  assert.equal(slowEnd.data.status, 'healthy', slowEnd.data.detail);
  assert.equal(deploy.summary.outcome, 'healthy', loop.logTail());
  const merged = deploy.events.find((e) => e.type === 'deploy.merged')!;
  assert.ok(merged.time > slowEnd.time, `the deploy of api merged (${merged.time}) only after the release holding api ended (${slowEnd.time})`);
  const besideEnd = beside.end as Completed;
  assert.equal(besideEnd.data.status, 'healthy');
  assert.ok(besideEnd.time < slowEnd.time, `the release of web ended (${besideEnd.time}) while the release of api still ran (${slowEnd.time})`);
});

test('bad input is refused with a clear error and nothing merged: an unknown service, the same service twice, no steps, an unknown ref', async (t) => {
  const loop = await startLoop({ services: ['api', 'web'], registry: { followupOffsetsMs: [] } });
  t.after(() => loop.stop());
  const [api, web] = loop.services as [typeof loop, typeof loop];
  const heads = [await api.originHead(), await web.originHead()];
  const tasksFrom = (await lastSeq(loop, StreamNames.tasks)) + 1;

  const twice = await cli(loop, ['release', 'start', '--step', `api=${DemoBranches.good}`, '--step', `api=${DemoBranches.flaky}`, '--wait']);
  assert.equal(twice.code, 2, twice.stderr);
  assert.match(twice.stderr, /the release is not valid: steps\.1\.service: api is already step 1: a release promotes each service once/);
  const file = join(loop.dir, 'empty-release.json');
  writeFileSync(file, JSON.stringify({ steps: [] }));
  const empty = await cli(loop, ['release', 'start', '--file', file, '--wait']);
  assert.equal(empty.code, 2, empty.stderr);
  assert.match(empty.stderr, /steps: a release needs at least one step/);
  const noSteps = await cli(loop, ['release', 'start', '--wait']);
  assert.equal(noSteps.code, 2);
  assert.match(noSteps.stderr, /a release needs at least one step/);
  const badStep = await cli(loop, ['release', 'start', '--step', 'api']);
  assert.equal(badStep.code, 2);
  assert.match(badStep.stderr, /--step "api" is not <service>=<ref>/);
  assert.equal((await storedSince(loop, StreamNames.tasks, tasksFrom)).length, 0, 'nothing was sent');

  const unknownService = await cli(loop, ['release', 'start', '--step', `api=${DemoBranches.good}`, '--step', `payments=${DemoBranches.good}`, '--wait']);
  assert.equal(unknownService.code, 5, unknownService.stderr);
  assert.match(unknownService.stdout, /: failed — payments is not in the service registry \(it has: api, web\); nothing was merged \(exit 5\)/);
  const unknownRef = await cli(loop, ['release', 'start', '--step', `api=${DemoBranches.good}`, '--step', 'web=feature/does-not-exist', '--wait']);
  assert.equal(unknownRef.code, 5, unknownRef.stderr);
  assert.match(unknownRef.stdout, /: failed — step 2: feature\/does-not-exist is not a branch, tag or commit of web \(.*\); nothing was merged \(exit 5\)/);
  assert.deepEqual([await api.originHead(), await web.originHead()], heads, 'nothing was merged');
  assert.deepEqual([api.deployRuns(), web.deployRuns()], [0, 0], 'nothing was deployed');
  const releaseId = /^release (\S+): failed/m.exec(unknownRef.stdout)![1]!;
  const shown = await cli(loop, ['release', 'status', releaseId, '--json']);
  assert.deepEqual(shown.json<ReleaseRun>()[0]!.steps.map((s) => s.status), ['skipped', 'skipped']);
  const missing = await cli(loop, ['release', 'status', 'no-such-release']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /there is no release no-such-release/);
});

test('a healthy release gets follow-ups for every promoted step; an abort stops a release before its next step and keeps what it promoted', async (t) => {
  const loop = await startLoop({ services: ['api', 'web'], registry: { followupOffsetsMs: [3_600_000] } });
  t.after(() => loop.stop());
  const [api, web] = loop.services as [typeof loop, typeof loop];
  const healthy = await cli(loop, ['release', 'start', '--step', `api=${DemoBranches.good}`, '--step', `web=${DemoBranches.good}`, '--guard-ms', '300', '--wait', '--json']);
  assert.equal(healthy.code, 0, healthy.stderr + healthy.stdout);
  const result = healthy.json<{ result?: ReleaseRun }>().find((line) => line.result)!.result!;
  assert.equal(result.status, 'healthy');
  assert.deepEqual(result.steps.map((s) => [s.service, s.status, s.verdict, s.guard]), [['api', 'promoted', 'passed', 'passed'], ['web', 'promoted', 'passed', 'passed']]);
  const followups = await (await FollowupStore.open(loop.nc)).list();
  for (const step of result.steps) {
    const mine = followups.filter((f) => f.deploymentId === step.deploymentId).map((f) => [f.offsetMs, f.status]);
    assert.deepEqual(mine, [[300, 'passed'], [3_600_000, 'pending']], `${step.service}: its guard window and its +1 h follow-up`);
  }

  await api.pushBranch('feature/api-docs', { 'docs.md': 'api\n' });
  await web.pushBranch('feature/web-docs', { 'docs.md': 'web\n' });
  const webHead = await web.originHead();
  const aborted = await requestRelease(loop.nc, { requestedBy: 'e2e-test', steps: [{ service: 'api', ref: 'feature/api-docs', guardMs: 2_000 }, { service: 'web', ref: 'feature/web-docs' }] }, { source: 'e2e-test' });
  await loop.waitForEvent(aborted.releaseId, 'release.step-started');
  const asked = await cli(loop, ['release', 'abort', aborted.releaseId, '--requested-by', 'night operator']);
  assert.equal(asked.code, 0, asked.stderr);
  const end = (await loop.waitForEvent(aborted.releaseId, 'release.completed')) as Completed;
  assert.equal(end.data.status, 'aborted');
  assert.deepEqual(end.data.steps.map((s) => [s.service, s.status]), [['api', 'promoted'], ['web', 'skipped']]);
  assert.match(end.data.detail, /^aborted by night operator before step 2; what was promoted stays$/);
  assert.equal(await web.originHead(), webHead, 'web was never merged');
  const again = await cli(loop, ['release', 'abort', aborted.releaseId]);
  assert.equal(again.code, 1);
  assert.match(again.stdout, /has ended \(aborted\): nothing to abort/);
  const doc = releaseRunSchema.parse((await (await stateOf(loop)).get(releaseRunPath(aborted.releaseId))).data);
  assert.equal(doc.status, 'aborted');

  // With --rollback, what the release promoted is rolled back too.
  await api.pushBranch('feature/api-more-docs', { 'docs.md': 'api, more\n' });
  const apiHead = await api.originHead();
  const undone = await requestRelease(loop.nc, { requestedBy: 'e2e-test', steps: [{ service: 'api', ref: 'feature/api-more-docs', guardMs: 2_000 }, { service: 'web', ref: 'feature/web-docs' }] }, { source: 'e2e-test' });
  await loop.waitForEvent(undone.releaseId, 'release.step-started');
  const withRollback = await cli(loop, ['release', 'abort', undone.releaseId, '--rollback']);
  assert.equal(withRollback.code, 0, withRollback.stderr);
  const undoneEnd = (await loop.waitForEvent(undone.releaseId, 'release.completed')) as Completed;
  assert.equal(undoneEnd.data.status, 'aborted', undoneEnd.data.detail);
  assert.deepEqual(undoneEnd.data.steps.map((s) => [s.service, s.status]), [['api', 'rolled-back'], ['web', 'skipped']]);
  const revert = (await loop.events(undone.releaseId)).find((e) => e.type === 'rollback.completed')!;
  assert.equal(await api.originHead(), (revert.data as { revertCommit: string }).revertCommit);
  assert.equal(await api.origin(['rev-parse', 'HEAD^{tree}']), await api.origin(['rev-parse', `${apiHead}^{tree}`]), 'api runs what it ran before the release');
  assert.equal(await web.originHead(), webHead, 'web was never merged');
  await assert.rejects((await stateOf(loop)).get('quarantine/api'), /document quarantine\/api does not exist/, "api's change was undone with its release, not found bad: nothing quarantined");
});
