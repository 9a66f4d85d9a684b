import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncidentEvent } from '@agentbus/incident';
import { abortRequested, finalCulprit, stepOutcome, type PlannedStep } from '../src/progress.ts';

// How a step stands, read from the release's events alone: what the release agent decides from,
// before and after a restart alike.

const sha = (c: string) => c.repeat(40);
let seq = 0;
function ev(type: IncidentEvent['type'], data: Record<string, unknown>): IncidentEvent {
  seq += 1;
  return { id: `e${seq}`, type, source: 'test', time: new Date(1_000 * seq).toISOString(), correlationId: 'rel', data, seq } as unknown as IncidentEvent;
}
const step: PlannedStep = { n: 2, service: 'web', ref: 'feature/x', guardMs: 300, deploymentId: 'rel-2' };
const mine = { deploymentId: 'rel-2', service: 'web' };
const completed = ev('deploy.completed', { ...mine, mergeCommit: sha('a'), previousCommit: sha('b') });
const passed = ev('health.passed', { ...mine, phase: 'post-deploy' });

test('a step waits until deployed, is promoted once its code is live, and passes only after its verdict and its guard window', () => {
  assert.deepEqual(stepOutcome([], step), { kind: 'waiting', promoted: false });
  assert.deepEqual(stepOutcome([completed], step), { kind: 'waiting', promoted: true, mergeCommit: sha('a'), previousCommit: sha('b') });
  assert.equal(stepOutcome([completed, passed], step).kind, 'waiting', 'the guard window is still to come');
  const otherFollowup = ev('followup.passed', { ...mine, offsetMs: 3_600_000 });
  assert.equal(stepOutcome([completed, passed, otherFollowup], step).kind, 'waiting', 'a follow-up at another offset is not the guard');
  const otherDeployment = ev('followup.passed', { ...mine, deploymentId: 'rel-1', offsetMs: 300 });
  assert.equal(stepOutcome([completed, passed, otherDeployment], step).kind, 'waiting', "another step's guard is not this one's");
  assert.deepEqual(stepOutcome([completed, passed, ev('followup.passed', { ...mine, offsetMs: 300 })], step), { kind: 'passed', mergeCommit: sha('a'), previousCommit: sha('b') });
  assert.equal(stepOutcome([completed, passed], { ...step, guardMs: 0 }).kind, 'passed', 'no guard window: the verdict is enough');
});

test('a failure is the rollback agent\'s to decide: the step ends rolled back, failed or in triage with it', () => {
  const failedGuard = ev('followup.failed', { ...mine, offsetMs: 300 });
  assert.equal(stepOutcome([completed, passed, failedGuard], step).kind, 'waiting');
  assert.equal(stepOutcome([completed, passed, failedGuard, ev('rollback.completed', { ...mine, mergeCommit: sha('a'), revertCommit: sha('c'), restoredCommit: sha('c') })], step).kind, 'rolled-back');
  const healthFailed = ev('health.failed', { ...mine, phase: 'post-deploy' });
  assert.equal(stepOutcome([completed, healthFailed], step).kind, 'waiting');
  const rollbackFailed = stepOutcome([completed, healthFailed, ev('rollback.failed', { ...mine, mergeCommit: sha('a'), stage: 'push', error: 'rejected' })], step);
  assert.deepEqual([rollbackFailed.kind, 'detail' in rollbackFailed && rollbackFailed.detail], ['failed', 'its rollback failed at push: rejected']);
  const skipped = stepOutcome([completed, healthFailed, ev('rollback.skipped', { ...mine, reason: 'baseline-unhealthy', detail: 'web was already unhealthy' })], step);
  assert.deepEqual([skipped.kind, 'detail' in skipped && skipped.detail], ['triage', 'not rolled back (baseline-unhealthy): web was already unhealthy']);
  assert.equal(stepOutcome([completed, ev('health.inconclusive', { ...mine, phase: 'post-deploy' })], step).kind, 'triage');
  assert.equal(stepOutcome([completed, passed, ev('followup.inconclusive', { ...mine, offsetMs: 300 })], step).kind, 'triage');
  assert.equal(stepOutcome([completed, passed, ev('followup.cancelled', { ...mine, offsetMs: 300, detail: 'superseded' })], step).kind, 'triage');
});

test('a deploy that failed before anything was live fails the step; one whose deploy command failed on pushed code waits for its rollback', () => {
  const refused = stepOutcome([ev('deploy.failed', { ...mine, stage: 'quarantine', error: 'same change', pushed: false })], step);
  assert.deepEqual(refused, { kind: 'failed', promoted: false, detail: 'its deploy failed at quarantine: same change' });
  const commandFailed = ev('deploy.failed', { ...mine, stage: 'deploy-command', error: 'exit 1', pushed: true, mergeCommit: sha('a'), previousCommit: sha('b') });
  assert.equal(stepOutcome([commandFailed], step).kind, 'waiting');
});

test('the final check names a culprit only when exactly one service of the release failed and every other passed', () => {
  const steps = [{ service: 'api' }, { service: 'web' }];
  const check = (...services: Array<[string, boolean, 'passed' | 'failed' | 'inconclusive']>) => ({ services: services.map(([service, inRelease, outcome]) => ({ service, inRelease, outcome })) });
  assert.equal(finalCulprit(check(['api', true, 'passed'], ['web', true, 'failed']), steps), steps[1]);
  assert.equal(finalCulprit(check(['api', true, 'failed'], ['web', true, 'failed']), steps), undefined, 'several');
  assert.equal(finalCulprit(check(['api', true, 'passed'], ['web', true, 'passed'], ['billing', false, 'failed']), steps), undefined, 'outside the release');
  assert.equal(finalCulprit(check(['api', true, 'inconclusive'], ['web', true, 'failed']), steps), undefined, 'one could not be judged');
});

test('an abort counts from the first request; any of them asking for rollback asks for it', () => {
  assert.equal(abortRequested([completed]), undefined);
  assert.deepEqual(abortRequested([ev('release.abort-requested', { releaseId: 'rel', rollback: false, requestedBy: 'ann' }), ev('release.abort-requested', { releaseId: 'rel', rollback: true, requestedBy: 'bob' })]), { rollback: true, requestedBy: 'ann' });
});
