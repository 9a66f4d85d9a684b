// End to end: deploys that fail. A push the remote rejects, and a push git reports as done while
// the remote did not move (seed 000's "verify push" guard), deploy nothing; a task with invalid
// data is dead-lettered with the validation error; a deploy command that exits non-zero is a
// deploy.failed carrying its stderr, made safe (colours and a NUL byte in it break nothing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { newMessageId } from '@agentbus/contracts';
import { DemoBranches } from '@agentbus/demo';
import { waitFor } from '@agentbus/testkit';
import { eventOf, getJson, startLoop, storyOf, type Loop } from './harness.ts';

/** Nothing of the deploy reached the service: same process, old version, and the deploy command never ran. */
async function assertNothingDeployed(loop: Loop, pidBefore: number | undefined): Promise<void> {
  assert.ok(pidBefore);
  assert.equal(loop.deployRuns(), 0, 'the deploy command never ran');
  assert.equal(loop.demo.runningPid(), pidBefore, 'the running server was not restarted');
  assert.equal((await getJson(loop.demo.baseUrl))?.body.version, '1.0.0', 'it still serves the old version');
  assert.equal((await getJson(`${loop.demo.baseUrl}/status`))?.status, 404, 'the feature is not live');
}

/** The working clone's branch equals origin's again (no unpushed merge left to leak into the next push), and it is clean. */
async function assertCloneMatchesOrigin(loop: Loop): Promise<void> {
  const origin = await loop.originHead();
  assert.equal(origin, loop.demo.initialCommit, 'origin did not move');
  assert.equal(await loop.clone(['rev-parse', `refs/heads/${loop.demo.branch}`]), origin, 'the clone dropped its unpushed merge');
  assert.equal(await loop.clone(['status', '--porcelain']), '');
}

async function deadLetterOf(loop: Loop, taskId: string) {
  return waitFor(`the dead letter of ${taskId}`, async () => (await loop.deadLetters()).find((d) => d.original.msgId === taskId), 15_000, 50);
}

const pushFailures = [
  {
    what: 'a push the remote rejects (pre-receive hook exits 1)',
    hook: { name: 'pre-receive', script: 'echo "main is frozen for the release" >&2\nexit 1' },
    stage: 'push',
    // The remote's own words are in the event.
    errors: [/rejected the push/, /main is frozen for the release/],
  },
  {
    what: 'a push git reports as done while the remote did not move (post-receive resets the branch)',
    // The server accepts the push and says ok, then puts the branch back (a gatekeeper bot, a failed replication).
    hook: { name: 'post-receive', script: 'while read old new ref; do git update-ref "$ref" "$old"; done' },
    stage: 'verify-push',
    errors: [/did not reach the remote/],
  },
] as const;

for (const failure of pushFailures) {
  test(`${failure.what}: deploy.failed at ${failure.stage}, nothing deployed, the clone equals origin again, the task is dead-lettered`, async (t) => {
    const loop = await startLoop({ beforeServices: (l) => l.originHook(failure.hook.name, failure.hook.script) });
    t.after(() => loop.stop());
    const pidBefore = loop.demo.runningPid();

    const run = await loop.deploy(DemoBranches.good);
    assert.equal(run.summary.outcome, 'deploy-failed', loop.logTail());
    const events = await loop.events(run.taskId);
    assert.deepEqual(storyOf(events), ['deploy.failed']);
    const failed = eventOf(events, 'deploy.failed')!;
    assert.equal(failed.data.stage, failure.stage);
    assert.equal(failed.data.pushed, false);
    for (const error of failure.errors) assert.match(failed.data.error, error);
    assert.ok(failed.data.mergeCommit, 'the merge that did not arrive is named');
    if (failure.stage === 'verify-push') {
      assert.equal(await loop.origin(['cat-file', '-t', failed.data.mergeCommit]), 'commit', 'git did send it: only the remote branch itself shows it is not there');
    }

    await assertNothingDeployed(loop, pidBefore);
    await assertCloneMatchesOrigin(loop);
    const dead = await deadLetterOf(loop, run.taskId);
    assert.equal(dead.consumer, 'deployer');
    assert.equal(dead.reason, 'handler-failed');
    assert.equal(dead.deliveries, 1, 'not retried');
    assert.match(dead.error, new RegExp(`deploy failed at ${failure.stage}:`));
    await assert.rejects(loop.manifests(), /not found|no document|does not exist/i, 'no release was recorded');
  });
}

test('a deploy task with invalid data is dead-lettered at once with the validation error, and nothing happens', async (t) => {
  const loop = await startLoop();
  t.after(() => loop.stop());
  const pidBefore = loop.demo.runningPid();

  // The typed publisher refuses this; a foreign client does not. `--upload-pack=…` is not a ref.
  const id = newMessageId();
  const envelope = { id, type: 'deployer.deploy', source: 'rogue-script', time: new Date().toISOString(), correlationId: id, data: { service: loop.demo.name, ref: '--upload-pack=touch /tmp/pwned', requestedBy: 'rogue-script' } };
  const h = natsHeaders();
  h.set('Nats-Msg-Id', id);
  await jetstream(loop.nc).publish('agents.deployer.tasks.deploy', JSON.stringify(envelope), { headers: h });

  const dead = await deadLetterOf(loop, id);
  assert.equal(dead.consumer, 'deployer');
  assert.equal(dead.reason, 'invalid-data');
  assert.equal(dead.deliveries, 1, 'dead-lettered at once, not retried');
  assert.match(dead.error, /invalid data for deployer\.deploy/);
  assert.match(dead.error, /ref/, 'the error names the field');
  assert.equal(dead.original.subject, 'agents.deployer.tasks.deploy');
  assert.deepEqual(JSON.parse(new TextDecoder().decode(dead.data)), envelope, 'the original body is kept for redrive');

  assert.deepEqual(storyOf(await loop.events(id)), [], 'no deploy event');
  assert.equal(await loop.originHead(), loop.demo.initialCommit);
  await assertNothingDeployed(loop, pidBefore);

  // The deployer is still there for the next, valid task.
  const next = await loop.deploy(DemoBranches.good);
  assert.equal(next.summary.outcome, 'healthy', loop.logTail());
});

test('a deploy command that exits non-zero (the new version crashes on start): deploy.failed with its stderr, then the pushed merge is rolled back and the old version runs again', async (t) => {
  const loop = await startLoop();
  t.after(() => loop.stop());

  const run = await loop.deploy(DemoBranches.crashOnStart);
  assert.equal(run.summary.outcome, 'rolled-back', loop.logTail());
  const events = await loop.events(run.taskId);
  assert.deepEqual(storyOf(events), ['deploy.merged', 'deploy.failed', 'rollback.started', 'rollback.reverted', 'rollback.completed']);
  const failed = eventOf(events, 'deploy.failed')!;
  assert.equal(failed.data.stage, 'deploy-command');
  assert.equal(failed.data.pushed, true, 'the merge had reached origin');
  assert.equal(failed.data.exitCode, 1);
  assert.match(failed.data.stderr ?? '', /exited \(code 1\) before listening/, 'the deploy script\'s stderr');
  assert.match(failed.data.stderr ?? '', /limits\.json/, 'with the server\'s own error');
  assert.match(failed.data.error, /limits\.json/);
  const dead = await deadLetterOf(loop, run.taskId);
  assert.equal(dead.reason, 'handler-failed');
  assert.match(dead.error, /deploy failed at deploy-command/);

  const merge = failed.data.mergeCommit!;
  const head = await loop.originHead();
  assert.equal(run.summary.revertCommit, head, 'origin ends with the revert');
  assert.equal(await loop.origin(['rev-parse', `${head}^`]), merge, 'of exactly that merge');
  assert.equal(loop.deployRuns(), 2, 'the failed deploy, then the redeploy of the revert; neither repeated');
  assert.equal((await getJson(loop.demo.healthUrl))?.status, 200, 'the old version answers again');
  assert.equal((await getJson(loop.demo.baseUrl))?.body.version, '1.0.0');
});

test('a deploy command whose stderr carries ANSI colours and a NUL byte (whatever the terminal): the text is recorded safely everywhere, and the pushed merge is rolled back once, not reported as a failed rollback', async (t) => {
  // fixtures/recording-deploy.mjs colours every stderr line and puts a NUL in it; the in-process services pass it on to the deploy command.
  process.env.E2E_DEPLOY_NOISY_STDERR = '1';
  t.after(() => delete process.env.E2E_DEPLOY_NOISY_STDERR);
  const loop = await startLoop();
  t.after(() => loop.stop());

  const run = await loop.deploy(DemoBranches.crashOnStart);
  assert.equal(run.summary.outcome, 'rolled-back', loop.logTail());
  const events = await loop.events(run.taskId);
  assert.deepEqual(storyOf(events), ['deploy.merged', 'deploy.failed', 'rollback.started', 'rollback.reverted', 'rollback.completed'], 'no rollback.failed, no escalation');
  const failed = eventOf(events, 'deploy.failed')!;
  const started = eventOf(events, 'rollback.started')!;
  // eslint-disable-next-line no-control-regex
  const unsafe = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;
  for (const [what, text] of [['deploy.failed error', failed.data.error], ['deploy.failed stderr', failed.data.stderr ?? ''], ['rollback.started reason', started.data.reason]] as const) {
    assert.doesNotMatch(text, unsafe, `${what}: no escape sequences or control characters`);
    assert.match(text, /limits\.json/, `${what}: the server's own error is kept`);
    assert.match(text, /\\x00/, `${what}: the NUL is shown, not hidden`);
  }

  const merge = failed.data.mergeCommit!;
  const head = await loop.originHead();
  assert.equal(run.summary.revertCommit, head, 'origin ends with the revert');
  assert.equal(await loop.origin(['rev-parse', `${head}^`]), merge, 'of exactly that merge');
  const subjects = (await loop.origin(['log', '--format=%s', loop.demo.branch])).split('\n');
  assert.equal(subjects.filter((subject) => subject.startsWith('Revert')).length, 1, 'exactly one revert');
  const message = await loop.origin(['log', '-1', '--format=%B', head]);
  assert.doesNotMatch(message.replace(/\n/g, ''), unsafe, 'the revert\'s message holds the reason made safe');
  assert.match(message, /the deploy command failed after the merge was pushed/);
  assert.equal(await loop.clone(['status', '--porcelain']), '', 'the clone is clean');
  assert.equal(loop.deployRuns(), 2, 'the failed deploy, then the redeploy of the revert');
  const manifests = await loop.manifests();
  assert.deepEqual(manifests.map((v) => v.manifest.status), ['rolled-back'], 'the rollback is recorded (the record\'s wording did not fail it)');
  assert.equal((await getJson(loop.demo.healthUrl))?.status, 200, 'the old version answers again');
  assert.equal((await getJson(loop.demo.baseUrl))?.body.version, '1.0.0');
});

test('deploying a branch again after its merge was rolled back is refused (already-merged at merge), not reported healthy with nothing deployed', async (t) => {
  const loop = await startLoop();
  t.after(() => loop.stop());
  const first = await loop.deploy(DemoBranches.broken);
  assert.equal(first.summary.outcome, 'rolled-back', loop.logTail());
  const revert = first.summary.revertCommit;

  const again = await loop.deploy(DemoBranches.broken);
  assert.equal(again.summary.outcome, 'deploy-failed', loop.logTail());
  const events = await loop.events(again.taskId);
  assert.deepEqual(storyOf(events), ['deploy.failed']);
  const failed = eventOf(events, 'deploy.failed')!;
  assert.equal(failed.data.stage, 'merge');
  assert.match(failed.data.error, new RegExp(`reverted by ${revert}`));
  assert.equal(await loop.originHead(), revert, 'origin stays at the revert');
  assert.equal(loop.deployRuns(), 2, 'no deploy command for the refused task');
  assert.deepEqual((await loop.manifests()).map((v) => [v.manifest.deploymentId, v.manifest.status, v.manifest.commit]), [
    [first.taskId, 'deployed', first.summary.mergeCommit],
    [first.taskId, 'rolled-back', revert],
  ], 'the manifest does not claim the reverted merge runs again');
  assert.equal((await deadLetterOf(loop, again.taskId)).reason, 'handler-failed');
});
