// End to end: staged multi-service releases (issue 12, section 1; seed 001). Real nats-server,
// real git origins and clones, real HTTP services, every agentbus service (the release agent too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { releaseRunPath, releaseRunSchema, type ReleaseRun } from '@agentbus/contracts';
import { DemoBranches } from '@agentbus/demo';
import type { IncidentEvent } from '@agentbus/incident';
import { releaseAndFollow, requestRelease, serviceNames, type ReleaseRun as FollowedRelease, type ReleaseSpec } from '@agentbus/platform';
import { openStateBackend, StateStore } from '@agentbus/state';
import { runCli, waitFor } from '@agentbus/testkit';
import { startLoop, type Loop } from './harness.ts';

const release = async (loop: Loop, spec: Omit<ReleaseSpec, 'requestedBy'>, timeoutMs = 60_000): Promise<FollowedRelease> => {
  try {
    return await releaseAndFollow(loop.nc, { requestedBy: 'e2e-test', ...spec }, { timeoutMs, source: 'e2e-test' });
  } catch (error) {
    throw new Error(`${String(error)}\n--- services log (last lines) ---\n${loop.logTail()}`, { cause: error });
  }
};

async function stateOf(loop: Loop): Promise<StateStore> {
  return new StateStore({ backend: await openStateBackend({ backend: 'nats-kv', nc: loop.nc }), agent: 'e2e-test' });
}

async function releaseDoc(loop: Loop, releaseId: string): Promise<ReleaseRun> {
  return releaseRunSchema.parse((await (await stateOf(loop)).get(releaseRunPath(releaseId))).data);
}

const typesOf = (events: readonly IncidentEvent[]) => events.map((e) => e.type);
const byType = <T extends IncidentEvent['type']>(events: readonly IncidentEvent[], type: T) => events.filter((e): e is Extract<IncidentEvent, { type: T }> => e.type === type);

test('a three-service release whose second step breaks: step 1 stays, step 2 is reverted, step 3 is never merged; one post-mortem tells every step', async (t) => {
  const loop = await startLoop({ services: ['api', 'web', 'billing'], registry: { followupOffsetsMs: [] }, sections: (dir) => ({ postmortems: { dir: `${dir}/postmortems` } }) });
  t.after(() => loop.stop());
  const [api, web, billing] = loop.services as [typeof loop, typeof loop, typeof loop];
  const billingHead = await billing.originHead();

  const run = await release(loop, { steps: [{ service: 'api', ref: DemoBranches.good, guardMs: 300 }, { service: 'web', ref: DemoBranches.broken, guardMs: 300 }, { service: 'billing', ref: DemoBranches.good }] });
  assert.equal(run.end.type, 'release.completed');
  const end = run.end.data as Extract<IncidentEvent, { type: 'release.completed' }>['data'];
  assert.equal(end.status, 'rolled-back', end.detail);
  assert.deepEqual(end.steps.map((s) => [s.service, s.status]), [['api', 'promoted'], ['web', 'rolled-back'], ['billing', 'skipped']]);
  assert.match(end.detail, /^step 2 \(web feature\/phase2-humanrail-channel\) failed its checks and was rolled back; later steps were not promoted$/);

  // Step 1 stays deployed; step 2's merge was reverted; step 3 was never merged nor deployed.
  const events = run.events;
  const merged = byType(events, 'deploy.merged');
  assert.deepEqual(merged.map((e) => e.data.service), ['api', 'web'], 'only the first two steps were merged');
  assert.equal(await api.originHead(), merged[0]!.data.mergeCommit, 'api still runs its merge');
  assert.equal(await api.clone(['log', '-1', '--format=%s']), `Merge ${DemoBranches.good} into main`);
  const reverted = byType(events, 'rollback.completed');
  assert.deepEqual(reverted.map((e) => e.data.service), ['web'], 'only web was rolled back (repo-scoped)');
  assert.equal(await web.originHead(), reverted[0]!.data.revertCommit);
  assert.equal(await billing.originHead(), billingHead, 'billing was never merged');
  assert.equal(billing.deployRuns(), 0, 'billing was never deployed');
  // The order of the story: web's deploy began only after api passed its verdict and guard window.
  const story = typesOf(events).filter((type) => type.startsWith('release.') || type === 'deploy.merged' || type === 'health.passed' || type === 'health.failed' || type === 'followup.passed' || type === 'rollback.completed');
  assert.deepEqual(story, ['release.started', 'release.step-started', 'deploy.merged', 'health.passed', 'followup.passed', 'release.step-passed', 'release.step-started', 'deploy.merged', 'health.failed', 'rollback.completed', 'release.completed']);
  // Every event of the release carries its id: one incident.
  assert.ok(events.every((e) => e.correlationId === run.releaseId));

  // The release document says so, version by version, and so does `release status --json`.
  const doc = await releaseDoc(loop, run.releaseId);
  assert.equal(doc.status, 'rolled-back');
  assert.deepEqual(doc.steps.map((s) => [s.service, s.status, s.verdict ?? null, s.guard ?? null]), [['api', 'promoted', 'passed', 'passed'], ['web', 'rolled-back', 'failed', null], ['billing', 'skipped', null, null]]);
  assert.equal(doc.steps[0]!.mergeCommit, merged[0]!.data.mergeCommit);
  assert.equal(doc.steps[1]!.revertCommit, reverted[0]!.data.revertCommit);
  const history = await (await stateOf(loop)).history(releaseRunPath(run.releaseId));
  assert.ok(history.entries.length >= 5, `a version at each change (${history.entries.length})`);
  const shown = await runCli(['release', 'status', run.releaseId, '--json'], { env: loop.cliEnv });
  assert.equal(shown.code, 0, shown.stderr);
  const status = shown.json<ReleaseRun>()[0]!;
  assert.equal(status.releaseId, run.releaseId);
  assert.equal(status.status, 'rolled-back');
  assert.deepEqual(status.steps.map((s) => [s.service, s.ref, s.status]), [['api', DemoBranches.good, 'promoted'], ['web', DemoBranches.broken, 'rolled-back'], ['billing', DemoBranches.good, 'skipped']]);
  const listed = await runCli(['release', 'list'], { env: loop.cliEnv });
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(`${run.releaseId} +rolled-back .* api:promoted web:rolled-back billing:skipped`));

  // One post-mortem for the release, telling every step.
  await waitFor('the post-mortem with the release\'s end', async () => {
    const written = await loop.events(run.releaseId);
    return written.some((e) => e.type === 'postmortem.written' && e.time >= run.end.time);
  }, 30_000);
  const store = await stateOf(loop);
  const postmortems = (await store.listDocuments()).filter((path) => path.startsWith('postmortems/'));
  assert.deepEqual(postmortems, [`postmortems/${run.releaseId}`], 'exactly one post-mortem: the release\'s');
  const pm = (await store.get(postmortems[0]!)).data as { service: string; outcome: string; timeline: Array<{ type: string; event: string }>; change: { mergeCommit: string | null } };
  assert.equal(pm.service, 'web', 'about the step that failed');
  assert.equal(pm.outcome, 'rolled-back');
  assert.equal(pm.change.mergeCommit, merged[1]!.data.mergeCommit);
  const rows = pm.timeline.map((row) => row.event);
  assert.ok(rows.includes(`step 1/3: promoting api ${DemoBranches.good}`), rows.join('\n'));
  assert.ok(rows.includes(`step 2/3: promoting web ${DemoBranches.broken}`), rows.join('\n'));
  assert.ok(pm.timeline.some((row) => row.type === 'release.completed'), 'the release\'s end is in the timeline');
});

test('with rollbackScope release, a failed step rolls back every step promoted before it too, after it, newest first', async (t) => {
  const loop = await startLoop({ services: ['api', 'web'], registry: { followupOffsetsMs: [] } });
  t.after(() => loop.stop());
  const [api, web] = loop.services as [typeof loop, typeof loop];
  const apiBefore = await api.originHead();

  const run = await release(loop, { rollbackScope: 'release', steps: [{ service: 'api', ref: DemoBranches.good, guardMs: 300 }, { service: 'web', ref: DemoBranches.broken, guardMs: 300 }] });
  const end = run.end.data as Extract<IncidentEvent, { type: 'release.completed' }>['data'];
  assert.equal(end.status, 'rolled-back', end.detail);
  assert.deepEqual(end.steps.map((s) => [s.service, s.status]), [['api', 'rolled-back'], ['web', 'rolled-back']]);
  assert.match(end.detail, /rolled back with it \(newest first\): step 1 \(api\)/);
  const reverted = byType(run.events, 'rollback.completed');
  assert.deepEqual(reverted.map((e) => e.data.service), ['web', 'api'], 'web first (its own failure), then api');
  assert.equal(await api.originHead(), reverted[1]!.data.revertCommit, "api's merge is reverted on its origin");
  assert.equal(await api.origin(['rev-parse', `${reverted[1]!.data.revertCommit}^{tree}`]), await api.origin(['rev-parse', `${apiBefore}^{tree}`]), 'api runs what it ran before the release');
  assert.equal(await web.originHead(), reverted[0]!.data.revertCommit);
  const asked = byType(run.events, 'rollback.started').find((e) => e.data.service === 'api')!;
  assert.match(asked.data.reason, new RegExp(`^release ${run.releaseId} is rolled back as a whole \\(rollbackScope release\\): step 2 \\(web `));
  const doc = await releaseDoc(loop, run.releaseId);
  assert.deepEqual(doc.steps.map((s) => s.status), ['rolled-back', 'rolled-back']);
  assert.ok(doc.steps.every((s) => s.revertCommit && s.rolledBackAt));
  // Only web's change was found bad: api's was undone with its release, and may be deployed again.
  const store = await stateOf(loop);
  const quarantined = await Promise.all(['api', 'web'].map((name) => store.get(`quarantine/${name}`).then((v) => (v.data as { changes: Array<{ ref: string }> }).changes.map((c) => c.ref), () => [])));
  assert.deepEqual(quarantined, [[], [DemoBranches.broken]]);
});

test('a final check that fails on several services (one outside the release) reverts nothing and flags the release for triage', async (t) => {
  const loop = await startLoop({ services: ['api', 'web', 'billing'], registry: { followupOffsetsMs: [] } });
  t.after(() => loop.stop());
  const [api, web, billing] = loop.services as [typeof loop, typeof loop, typeof loop];
  // While web waits out its guard window (api's is long over), api and billing lose a dependency.
  let broke = false;
  const onEvent = (event: IncidentEvent) => {
    if (event.type === 'followup.scheduled' && event.data.service === 'web' && !broke) {
      broke = true;
      api.demo.setDependencyDown(true);
      billing.demo.setDependencyDown(true);
    }
  };
  const run = await releaseAndFollow(loop.nc, { requestedBy: 'e2e-test', alsoCheck: ['billing'], steps: [{ service: 'api', ref: DemoBranches.good, guardMs: 300 }, { service: 'web', ref: DemoBranches.good, guardMs: 2_000 }] }, { timeoutMs: 60_000, source: 'e2e-test', onEvent });
  assert.ok(broke, 'the services were broken during the guard window');
  const end = run.end.data as Extract<IncidentEvent, { type: 'release.completed' }>['data'];
  assert.equal(end.status, 'triage', end.detail);
  assert.deepEqual(end.steps.map((s) => [s.service, s.status]), [['api', 'promoted'], ['web', 'promoted']]);
  assert.match(end.detail, /^the final check failed on api: health: .*; billing \(not in the release\): health: .*: the failing service cannot be named unambiguously, so nothing was reverted$/);
  const checked = byType(run.events, 'release.checked')[0]!;
  assert.deepEqual(checked.data.services.map((s) => [s.service, s.inRelease, s.outcome]), [['api', true, 'failed'], ['web', true, 'passed'], ['billing', false, 'failed']]);
  assert.deepEqual(byType(run.events, 'rollback.started'), [], 'nothing was rolled back');
  const merged = byType(run.events, 'deploy.merged');
  assert.equal(await api.originHead(), merged[0]!.data.mergeCommit, 'api still runs its merge');
  assert.equal(await web.originHead(), merged[1]!.data.mergeCommit);
  const escalations = byType(run.events, 'escalation.raised');
  assert.deepEqual(escalations.map((e) => [e.data.kind, e.data.severity]), [['release-triage', 'critical']]);
  assert.match(escalations[0]!.data.summary, new RegExp(`^release ${run.releaseId} stopped for manual triage: the final check failed on api`));
  assert.equal((await releaseDoc(loop, run.releaseId)).finalCheck?.outcome, 'failed');
});

test('a release agent killed (SIGKILL) in a guard window is resumed by the next one from the release\'s events, repeating nothing', async (t) => {
  const loop = await startLoop({ services: ['api', 'web'], registry: { followupOffsetsMs: [] }, inProcess: serviceNames.filter((name) => name !== 'release') });
  t.after(() => loop.stop());
  const [api, web] = loop.services as [typeof loop, typeof loop];
  const first = await loop.spawnService('release');
  const { releaseId } = await requestRelease(loop.nc, { requestedBy: 'e2e-test', steps: [{ service: 'api', ref: DemoBranches.good, guardMs: 1_500 }, { service: 'web', ref: DemoBranches.good, guardMs: 300 }] }, { source: 'e2e-test' });
  await loop.waitForEvent(releaseId, 'followup.scheduled'); // api is deployed and judged, its guard window running
  first.child.kill('SIGKILL');
  assert.equal(await first.exited, 'SIGKILL');
  await loop.spawnService('release');
  const end = (await waitFor('the release to end', async () => (await loop.events(releaseId)).find((e) => e.type === 'release.completed'), 60_000)) as Extract<IncidentEvent, { type: 'release.completed' }>;
  assert.equal(end.data.status, 'healthy', `${end.data.detail}\n${loop.logTail()}`);
  const events = await loop.events(releaseId);
  const count = (type: IncidentEvent['type']) => events.filter((e) => e.type === type).length;
  assert.deepEqual([count('release.started'), count('release.step-started'), count('deploy.merged'), count('release.step-passed'), count('release.checked'), count('release.completed')], [1, 2, 2, 2, 1, 1], 'each once');
  assert.deepEqual([api.deployRuns(), web.deployRuns()], [1, 1], 'each service deployed once');
  assert.equal((await releaseDoc(loop, releaseId)).status, 'healthy');
});

test('a final check that fails on one service of the release only rolls that one back, its change quarantined', async (t) => {
  // api's change degrades 2.5 s after it starts: after its verdict and guard window, before the final check.
  const loop = await startLoop({ services: ['api', 'web'], registry: { followupOffsetsMs: [] }, demo: { degradeAfterMs: 2_500 } });
  t.after(() => loop.stop());
  const [api, web] = loop.services as [typeof loop, typeof loop];
  const run = await release(loop, { steps: [{ service: 'api', ref: DemoBranches.degradesLater, guardMs: 300 }, { service: 'web', ref: DemoBranches.good, guardMs: 4_000 }] });
  const end = run.end.data as Extract<IncidentEvent, { type: 'release.completed' }>['data'];
  assert.equal(end.status, 'rolled-back', `${end.detail}\n${loop.logTail()}`);
  assert.deepEqual(byType(run.events, 'release.step-passed').map((e) => e.data.service), ['api', 'web'], 'both steps passed their verdict and guard window');
  assert.deepEqual(byType(run.events, 'release.checked')[0]!.data.services.map((s) => [s.service, s.outcome]), [['api', 'failed'], ['web', 'passed']]);
  assert.deepEqual(end.steps.map((s) => [s.service, s.status]), [['api', 'rolled-back'], ['web', 'promoted']]);
  assert.match(end.detail, new RegExp(`^the final check of release ${run.releaseId} failed on api only: health: .*; rolled back: step 1 \\(api\\)$`));
  const reverted = byType(run.events, 'rollback.completed');
  assert.deepEqual(reverted.map((e) => e.data.service), ['api']);
  assert.equal(await api.originHead(), reverted[0]!.data.revertCommit);
  assert.equal(await web.originHead(), byType(run.events, 'deploy.merged')[1]!.data.mergeCommit, 'web stays');
  const quarantine = (await (await stateOf(loop)).get('quarantine/api')).data as { changes: Array<{ ref: string; incidentId: string }> };
  assert.deepEqual(quarantine.changes.map((c) => [c.ref, c.incidentId]), [[DemoBranches.degradesLater, run.releaseId]], 'the change the final check found bad is quarantined');
});
