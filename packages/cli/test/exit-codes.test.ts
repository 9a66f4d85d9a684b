import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarizeIncident, IncidentOutcomes } from '@agentbus/incident';
import { ExitCodes, outcomeExitCode } from '../src/exit-codes.ts';
import { assertFollowEnded } from '../src/loop.ts';

test('every incident outcome has its exit code, and they are distinct where a script must tell them apart', () => {
  const codes = Object.fromEntries(Object.values(IncidentOutcomes).map((outcome) => [outcome, outcomeExitCode(outcome)]));
  assert.deepEqual(codes, {
    healthy: 0,
    planned: 0,
    'rolled-back': ExitCodes.rolledBack,
    'rollback-skipped': ExitCodes.escalated,
    'deploy-failed': ExitCodes.failed,
    'rollback-failed': ExitCodes.failed,
    inconclusive: ExitCodes.escalated,
    'in-progress': ExitCodes.error,
  });
  assert.equal(new Set([ExitCodes.ok, ExitCodes.error, ExitCodes.usage, ExitCodes.rolledBack, ExitCodes.escalated, ExitCodes.failed]).size, 6);
});

test('a follow cut off by the time-out reports an incident that has ended, and names where one still going stands', () => {
  const ended = summarizeIncident('i-1', [{ id: 'e1', type: 'rollback.skipped', source: 'rollback', time: '2026-01-01T00:00:00.000Z', correlationId: 'i-1', seq: 7, data: { deploymentId: 'i-1', service: 'api', reason: 'baseline-unhealthy', detail: 'was down' } }]);
  assert.doesNotThrow(() => assertFollowEnded('timeout', ended, { timeoutMs: 1_000, events: [] }));
  const going = summarizeIncident('i-2', []);
  assert.throws(() => assertFollowEnded('timeout', going, { timeoutMs: 1_000, events: [] }), (error: Error & { code?: string }) => error.code === 'deploy-timeout' && /no outcome after 1000 ms: the deploy i-2 is in-progress/.test(error.message));
  assert.throws(() => assertFollowEnded('interrupted', going, { timeoutMs: 1_000, events: [] }), (error: Error & { code?: string }) => error.code === 'interrupted');
  assert.doesNotThrow(() => assertFollowEnded('done', going, { timeoutMs: 1_000, events: [] }));
});
