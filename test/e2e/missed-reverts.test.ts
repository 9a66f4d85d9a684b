// End to end: the platform's first promise, a bad deploy does not stay live, where it used to be
// broken: a second bad deploy right after a revert, a verdict given late, a cluster that loses a
// node mid-loop; and the invariant over every way a verdict can end: a deploy whose checks fail is
// reverted, or an escalation says why it was not — never neither.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { serverSource } from '@agentbus/demo';
import type { IncidentEvent } from '@agentbus/incident';
import { openStateBackend, StateStore } from '@agentbus/state';
import { agentbusConsumers, type ConsumerDefinition } from '@agentbus/streams';
import { waitFor } from '@agentbus/testkit';
import { eventOf, getJson, startLoop, storyOf, type ServiceUnderTest } from './harness.ts';
import { startLeaderKills } from './leader-kills.ts';

/** Pushes a change that makes /health crash the process (seed 000's broken version), marked `n`. */
function pushBroken(unit: ServiceUnderTest, ref: string): Promise<string> {
  return unit.pushBranch(ref, { 'server.mjs': `${serverSource(unit.demo.name, 'broken')}// broken change ${ref}\n` });
}

async function revertsOnOrigin(unit: ServiceUnderTest): Promise<string[]> {
  return (await unit.origin(['log', '--format=%s', '--grep', 'This reverts commit', `${unit.demo.initialCommit}..${await unit.originHead()}`])).split('\n').filter(Boolean);
}

test('two health-breaking changes deployed to one service within 100 ms: both reverted, each once, the second judged against the health the first one\'s rollback restored', async (t) => {
  // The watch probes all the time, so samples taken while the first bad change runs are there to be mistaken for a baseline.
  const loop = await startLoop({ env: { HEALTH_WATCH_INTERVAL_MS: '50' } });
  t.after(() => loop.stop());
  await pushBroken(loop, 'bad/one');
  await pushBroken(loop, 'bad/two');

  const first = loop.deploy('bad/one', { timeoutMs: 60_000 });
  await sleep(50);
  const second = loop.deploy('bad/two', { timeoutMs: 60_000 });
  const [a, b] = await Promise.all([first, second]);
  assert.equal(a.summary.outcome, 'rolled-back', loop.logTail());
  assert.equal(b.summary.outcome, 'rolled-back', loop.logTail());
  const reverts = await revertsOnOrigin(loop);
  assert.equal(reverts.length, 2, `each reverted once: ${reverts.join(' | ')}`);
  const later = [a, b].sort((x, y) => eventOf(x.events, 'deploy.merged')!.seq - eventOf(y.events, 'deploy.merged')!.seq)[1]!;
  // deploy.merged carries the baseline whether the deploy then completed or its command failed
  // (the watch, probing every 50 ms, may crash the broken version before the deploy script sees it listen).
  const baseline = eventOf(later.events, 'deploy.merged')!.data.baseline;
  assert.equal(baseline?.healthy, true, 'the later deploy\'s baseline is the health restored by the first rollback');
  assert.equal((await getJson(loop.demo.healthUrl))?.status, 200, 'healthy at the end');
});

/** The health monitor's consumer with a short ack wait, so a verdict left unfinished comes back within seconds. */
const quickVerdicts: ConsumerDefinition[] = agentbusConsumers.filter((c) => c.durable === 'health-monitor').map((c) => ({ ...c, ackWaitMs: 5_000 }));

test('a verdict given late (the health monitor stopped, then resumed; or dead, then replaced) judges against the baseline from before the merge and reverts', async (t) => {
  const loop = await startLoop({ inProcess: ['deployer', 'rollback', 'postmortem', 'notifier'], consumers: quickVerdicts, env: { HEALTH_WATCH_INTERVAL_MS: '100' } });
  t.after(() => loop.stop());
  await pushBroken(loop, 'bad/late-1');
  await pushBroken(loop, 'bad/late-2');

  // Held: SIGSTOP for longer than the old rolling window of watch samples, then SIGCONT.
  const held = await loop.spawnService('health-monitor');
  held.child.kill('SIGSTOP');
  const stopped = loop.deploy('bad/late-1', { timeoutMs: 90_000 });
  await loop.waitForEvent(await waitFor('the deployment', () => loop.latestDeployment().catch(() => undefined)), 'deploy.completed');
  await sleep(4_000);
  held.child.kill('SIGCONT');
  const run1 = await stopped;
  assert.equal(run1.summary.outcome, 'rolled-back', loop.logTail());
  assert.equal(eventOf(run1.events, 'health.failed')!.data.baseline?.healthy, true);

  // Replaced: the health monitor dies before it judges; a new one (nothing in its memory from before the merge) judges it late.
  held.child.kill('SIGSTOP');
  const replaced = loop.deploy('bad/late-2', { timeoutMs: 90_000 });
  const deployment = await waitFor('the second deployment', async () => {
    const latest = await loop.latestDeployment();
    return latest !== run1.taskId ? latest : undefined;
  });
  await loop.waitForEvent(deployment, 'deploy.completed');
  held.child.kill('SIGKILL');
  await held.exited;
  await sleep(2_000);
  await loop.spawnService('health-monitor');
  const run2 = await replaced;
  assert.equal(run2.summary.outcome, 'rolled-back', loop.logTail());
  const failed = eventOf(run2.events, 'health.failed')!;
  assert.equal(failed.data.baseline?.healthy, true, 'judged against the baseline the deployer captured before the merge');
  assert.ok(Date.parse(failed.data.baseline!.checkedAt) < Date.parse(eventOf(run2.events, 'deploy.merged')!.time));
  assert.equal((await revertsOnOrigin(loop)).length, 2);
  assert.equal((await getJson(loop.demo.healthUrl))?.status, 200);
});

test('on a 3-node cluster, the AGENT_EVENTS leader SIGKILLed right after the deploy ends (deploy.completed, or deploy.failed on pushed code) and restarted 5 s later, five times: each run reverts once, ends healthy, is written up, deploy --wait reports it, and the loop resumes within seconds', async (t) => {
  const kills = await startLeaderKills();
  t.after(() => kills.stop());
  const { loop } = kills;
  const store = new StateStore({ backend: await openStateBackend({ backend: 'nats-kv', nc: loop.nc }), agent: 'e2e-test' });
  const refs = ['bad/f1', 'bad/f2', 'bad/f3', 'bad/f4', 'bad/f5'];

  const calm = await kills.run('bad/calm', false);
  assert.equal(calm.result.code, 3, calm.result.stderr);
  t.diagnostic(`bad/calm: ${calm.ms} ms\n${calm.story}`);
  for (const ref of refs) {
    const faulted = await kills.run(ref, true);
    t.diagnostic(`${ref}: ${faulted.ms} ms with the fault (penalty ${faulted.ms - calm.ms} ms)\n${faulted.story}`);
    assert.equal(faulted.result.code, 3, `${ref}: deploy --wait reports the rollback\n${faulted.result.stdout}\n${faulted.result.stderr}\n${loop.logTail(20)}`);
    assert.deepEqual(storyOf(faulted.events).filter((type) => type.startsWith('rollback.')), ['rollback.started', 'rollback.reverted', 'rollback.completed'], ref);
    assert.equal((await getJson(loop.demo.healthUrl))?.status, 200, `${ref}: healthy again`);
    await waitFor(`${ref}: its post-mortem`, () => store.get(`postmortems/${faulted.incident}`).then(() => true, () => false), 30_000, 200);
    // Liveness, not speed: before issue 9 a consumer that lost its pull waited out its ack wait
    // (40-60 s). How much slower the loop is with the fault (the goal: at most 15 s) is measured by
    // `npm run bench:cluster`, with medians, not asserted here. Most of a penalty is nats-server
    // 2.9.10's: each R3 group the killed node led (AGENT_EVENTS, and whichever buckets and
    // consumers it also led) has no leader for 4-9 s (a follower's random election time-out); the
    // loop's own share after the last election is about 1-4 s on a loaded 2-core machine.
    assert.ok(faulted.ms <= calm.ms + 30_000, `${ref}: ${faulted.ms} ms with the fault, ${calm.ms} ms without: the loop resumed within seconds\n${faulted.story}`);
  }
  assert.equal((await revertsOnOrigin(loop)).length, refs.length + 1, 'one revert per bad change');
});

/**
 * The invariant: every deployment that completed has a verdict or an escalation, and every
 * verdict or deploy command that failed on pushed code ends reverted (here or before: an incident
 * already rolled back) or with an escalation that says why not.
 */
function invariant(events: readonly IncidentEvent[]): string | undefined {
  const completed = events.some((e) => e.type === 'deploy.completed');
  const verdict = events.some((e) => (e.type === 'health.passed' || e.type === 'health.failed') && e.data.phase === 'post-deploy');
  const escalated = events.some((e) => e.type === 'escalation.raised');
  const reverted = events.some((e) => e.type === 'rollback.completed');
  const alreadyReverted = events.some((e) => e.type === 'rollback.skipped' && e.data.reason === 'already-rolled-back');
  const failed = events.some((e) => (e.type === 'health.failed' && e.data.phase === 'post-deploy') || (e.type === 'deploy.failed' && e.data.pushed && e.data.stage === 'deploy-command'));
  if (completed && !verdict && !escalated) return 'a completed deployment has neither a verdict nor an escalation';
  if (failed && !reverted && !alreadyReverted && !escalated) return 'a failed deployment was neither reverted nor escalated';
  return undefined;
}

test('every way a verdict can end keeps the invariant: reverted, or an escalation says why not — never neither', async (t) => {
  const loop = await startLoop({ services: ['primerouter', 'bystander'] });
  t.after(() => loop.stop());
  const store = new StateStore({ backend: await openStateBackend({ backend: 'nats-kv', nc: loop.nc }), agent: 'operator' });
  const checked: string[] = [];
  const check = async (name: string, incident: string, expect: IncidentEvent['type'], reason?: string) => {
    const events = await waitFor(`${name}: ${expect}`, async () => {
      await loop.waitUntilConsumed();
      const found = await loop.events(incident);
      return found.some((e) => e.type === expect) ? found : undefined;
    }, 30_000, 100);
    assert.equal(invariant(events), undefined, `${name}: ${invariant(events)}\n${events.map((e) => e.type).join(', ')}`);
    if (reason) assert.equal(events.find((e) => e.type === 'rollback.skipped')?.data.reason, reason, `${name}: the skip says why`);
    checked.push(name);
  };

  const passed = await loop.deploy('feature/status-endpoint');
  await check('passed', passed.taskId, 'health.passed');
  await pushBroken(loop, 'bad/matrix');
  const reverted = await loop.deploy('bad/matrix');
  await check('failed and reverted', reverted.taskId, 'rollback.completed');
  const verdict = eventOf(reverted.events, 'health.failed')!.data;

  // The rollback agent's other answers to a failed verdict, each told a health.failed as the health monitor would publish it.
  const tell = async (name: string, data: Partial<typeof verdict>, correlationId = `matrix-${name}`) => {
    await loop.publisher().publish('health.failed', { ...verdict, ...data }, { correlationId, id: `matrix-${name}` });
    await check(name, correlationId, 'rollback.skipped', name);
  };
  await tell('already-rolled-back', { deploymentId: reverted.taskId }, reverted.taskId);
  await tell('not-latest-deployment', { deploymentId: 'an-older-deployment' });
  await tell('unknown-deployment', { service: 'bystander', deploymentId: 'never-deployed' });
  await loop.pushBranch('feature/runbook', { 'docs/RUNBOOK.md': '# Runbook\n' });
  const latest = await loop.deploy('feature/runbook');
  assert.equal(latest.summary.outcome, 'healthy', loop.logTail());
  await tell('baseline-unhealthy', { deploymentId: latest.taskId, baseline: { ...verdict.baseline!, healthy: false } });
  await tell('checks-not-owned', { deploymentId: latest.taskId, checks: verdict.checks.map((c) => ({ ...c, name: `someone-elses-${c.name}` })) });
  // The release manifest says the running commit is a revert (an operator deployed one by hand).
  const revertCommit = reverted.summary.revertCommit!;
  const manifest = (await store.get('releases/primerouter')).data;
  await store.put('releases/primerouter', { ...manifest, deploymentId: 'matrix-revert', status: 'deployed', commit: revertCommit, mergeCommit: revertCommit }, { reason: 'an operator deployed the revert by hand', agent: 'operator' });
  await tell('revert-of-revert', { deploymentId: 'matrix-revert', mergeCommit: revertCommit });

  // A deployment the health monitor cannot judge at all (a service it does not know): no verdict, so an escalation.
  await loop.publisher().publish('deploy.completed', { ...eventOf(reverted.events, 'deploy.completed')!.data, deploymentId: 'matrix-inconclusive', service: 'not-in-the-registry' }, { correlationId: 'matrix-inconclusive', id: 'matrix-inconclusive' });
  await check('inconclusive', 'matrix-inconclusive', 'escalation.raised');
  assert.equal(checked.length, 9, checked.join(', '));
});
