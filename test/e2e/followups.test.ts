// End to end: follow-up checks after a deployment was judged healthy (seed 001's +1 h/+4 h/+12 h,
// here a few seconds). A service that degrades after its first window is reverted by a follow-up,
// and the post-mortem says which one found it; the follow-ups are durable timers, so one still
// fires within 2 s of its due time, once, after every service and the NATS server were restarted
// in between; a newer deploy cancels an older deployment's pending follow-ups; a replay of the
// follow-up's events repeats nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { DemoBranches } from '@agentbus/demo';
import { serviceNames } from '@agentbus/platform';
import { runCli, waitFor } from '@agentbus/testkit';
import { eventOf, startLoop, type Loop } from './harness.ts';

const cli = (loop: Loop, args: string[]) => runCli(args, { env: loop.cliEnv });

async function followupsOf(loop: Loop): Promise<Array<{ deploymentId: string; n: number; status: string; dueAt: string; firedAt?: string; detail?: string; supersededBy?: string }>> {
  const listed = await cli(loop, ['followups', 'list', '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  return listed.json();
}

test('a service that degrades after its first window is reverted by its +3 s follow-up; the +6 s one is cancelled; the post-mortem names the follow-up; a replay repeats nothing', async (t) => {
  const loop = await startLoop({ demo: { degradeAfterMs: 2_000 }, registry: { followupOffsetsMs: [3_000, 6_000] } });
  t.after(() => loop.stop());
  const run = await loop.deploy(DemoBranches.degradesLater);
  assert.equal(run.summary.outcome, 'healthy', 'the first window sees nothing wrong');
  const id = run.taskId;
  await loop.waitForEvent(id, 'rollback.completed');
  const events = await loop.events(id);
  const completed = eventOf(events, 'rollback.completed')!;
  const scheduled = eventOf(events, 'followup.scheduled')!;
  assert.deepEqual(scheduled.data.followups.map((f) => f.offsetMs), [3_000, 6_000]);
  const failed = eventOf(events, 'followup.failed')!;
  assert.equal(failed.data.n, 1);
  assert.deepEqual(failed.data.checks.filter((c) => !c.ok && c.severity === 'fatal').map((c) => c.name), ['health']);
  assert.match(eventOf(events, 'rollback.started')!.data.reason, /^health check failed after deploy of feature\/connection-pool \(found by the \+3 s follow-up\): health .*503/);
  assert.ok(completed.data.revertCommit);

  // The second follow-up is cancelled by the rollback, never run.
  await loop.waitForEvent(id, 'followup.cancelled');
  const cancelled = eventOf(await loop.events(id), 'followup.cancelled')!;
  assert.deepEqual([cancelled.data.n, cancelled.data.reason], [2, 'rolled-back']);
  await sleep(Math.max(0, Date.parse(cancelled.data.dueAt) - Date.now() + 1_000));
  assert.deepEqual(
    (await loop.events(id)).filter((e) => e.type.startsWith('followup.') && e.type !== 'followup.scheduled').map((e) => `${e.type} ${(e.data as { n: number }).n}`),
    ['followup.failed 1', 'followup.cancelled 2'],
  );
  assert.deepEqual((await followupsOf(loop)).map((f) => [f.n, f.status]), [[1, 'failed'], [2, 'cancelled']]);

  // The post-mortem says who found it.
  await loop.waitForEvent(id, 'postmortem.written');
  await loop.waitUntilConsumed();
  const shown = await cli(loop, ['postmortem', 'show', id, '--json']);
  assert.equal(shown.code, 0, shown.stderr);
  const postmortem = shown.json<{ foundBy: string | null; summary: string; outcome: string; decisions: string[] }>()[0]!;
  assert.equal(postmortem.outcome, 'rolled-back');
  assert.equal(postmortem.foundBy, 'the +3 s follow-up');
  assert.match(postmortem.summary, /The \+3 s follow-up found that health \(http:\/\/127\.0\.0\.1:\d+\/health\) failed/);
  assert.ok(postmortem.decisions.some((d) => /^It was found by the \+3 s follow-up, 3\.0 s after the deployment was judged healthy: health failed/.test(d)), postmortem.decisions.join('\n'));

  // Replaying the follow-up's verdict (as an operator might) rolls nothing back twice.
  const replayed = await cli(loop, ['replay', '--stream', 'AGENT_EVENTS', '--from-seq', String(failed.seq), '--to-seq', String(failed.seq), '--republish']);
  assert.equal(replayed.code, 0, replayed.stderr);
  await loop.waitUntilConsumed();
  const after = await loop.events(id);
  assert.equal(after.filter((e) => e.type === 'followup.failed').length, 2, 'the replayed copy is on the bus');
  assert.equal(after.filter((e) => e.type === 'rollback.started').length, 1, 'and was not acted on again');
  assert.equal(await loop.origin(['rev-list', '--count', '--grep', 'This reverts commit', 'HEAD']), '1');
});

test('a follow-up fires within 2 s of its due time, exactly once, after every service and the NATS server were restarted before it was due', async (t) => {
  const loop = await startLoop({ inProcess: [], registry: { followupOffsetsMs: [15_000] } });
  t.after(() => loop.stop());
  const spawned = await Promise.all(serviceNames.map((name) => loop.spawnService(name)));
  const run = await loop.deploy(DemoBranches.good);
  assert.equal(run.summary.outcome, 'healthy', loop.logTail());
  await loop.waitForEvent(run.taskId, 'followup.scheduled');
  const scheduled = eventOf(await loop.events(run.taskId), 'followup.scheduled')!;
  const dueAt = Date.parse(scheduled.data.followups[0]!.dueAt);

  for (const service of spawned) service.child.kill('SIGKILL');
  await Promise.all(spawned.map((service) => service.exited));
  await loop.nats.kill(); // at once: the timer's nak is a second old
  await loop.nats.restart();
  await Promise.all(serviceNames.map((name) => loop.spawnService(name)));
  assert.ok(Date.now() < dueAt - 1_000, `everything was back ${Date.now() - dueAt} ms after the follow-up was due: the test proves nothing`);

  const passed = await waitFor('the follow-up', async () => eventOf(await loop.events(run.taskId), 'followup.passed'), dueAt - Date.now() + 10_000, 50);
  const lateMs = Date.parse(passed.data.firedAt) - dueAt;
  t.diagnostic(`fired ${lateMs} ms after due; announced ${Date.parse(passed.time) - dueAt} ms after due`);
  assert.ok(lateMs >= 0, `not before it was due (${lateMs} ms)`);
  assert.ok(lateMs < 2_000, `within 2 s of due: ${lateMs} ms`);
  await sleep(3_000);
  assert.equal((await loop.events(run.taskId)).filter((e) => e.type.startsWith('followup.') && e.type !== 'followup.scheduled').length, 1, 'exactly once');
  assert.deepEqual((await followupsOf(loop)).map((f) => [f.deploymentId, f.status]), [[run.taskId, 'passed']]);
});

test('a newer deploy cancels the older deployment\'s pending follow-ups at once; only the newer one\'s run', async (t) => {
  const loop = await startLoop({ registry: { followupOffsetsMs: [5_000] } });
  t.after(() => loop.stop());
  const first = await loop.deploy(DemoBranches.good);
  assert.equal(first.summary.outcome, 'healthy');
  const second = await loop.deploy(DemoBranches.slow);
  assert.equal(second.summary.outcome, 'healthy', loop.logTail());

  await loop.waitForEvent(first.taskId, 'followup.cancelled');
  const cancelled = eventOf(await loop.events(first.taskId), 'followup.cancelled')!;
  assert.equal(cancelled.data.reason, 'superseded');
  assert.equal(cancelled.data.supersededBy, second.taskId);
  assert.ok(Date.parse(cancelled.time) < Date.parse(cancelled.data.dueAt), 'cancelled before it was due');
  const listed = await followupsOf(loop);
  assert.deepEqual(listed.map((f) => [f.deploymentId, f.status]), [[first.taskId, 'cancelled'], [second.taskId, 'pending']]);

  await loop.waitForEvent(second.taskId, 'followup.passed');
  await sleep(1_000);
  assert.deepEqual((await loop.events(first.taskId)).filter((e) => e.type.startsWith('followup.')).map((e) => e.type), ['followup.scheduled', 'followup.cancelled'], 'the old one never ran');
  const human = await cli(loop, ['followups', 'list', '--service', loop.demo.name]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^SERVICE +DEPLOYMENT +FOLLOW-UP +DUE +WHEN +STATUS +DETAIL$/m);
  assert.match(human.stdout, new RegExp(`${loop.demo.name} +${first.taskId.slice(0, 40)} +\\+5 s \\(1/1\\) .* cancelled +deployment ${second.taskId}`));
  const bad = await cli(loop, ['followups', 'list', '--service', 'Not A Service']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--service "Not A Service" is not a service name/);
});
