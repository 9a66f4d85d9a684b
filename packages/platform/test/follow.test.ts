import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarizeIncident } from '@agentbus/incident';
import { assertFollowEnded } from '../src/follow.ts';

test('a follow cut off by the time-out reports an incident that has ended, and names where one still going stands', () => {
  const ended = summarizeIncident('i-1', [{ id: 'e1', type: 'rollback.skipped', source: 'rollback', time: '2026-01-01T00:00:00.000Z', correlationId: 'i-1', seq: 7, data: { deploymentId: 'i-1', service: 'api', reason: 'baseline-unhealthy', detail: 'was down' } }]);
  assert.doesNotThrow(() => assertFollowEnded('timeout', ended, { timeoutMs: 1_000, events: [] }));
  const going = summarizeIncident('i-2', []);
  assert.throws(() => assertFollowEnded('timeout', going, { timeoutMs: 1_000, events: [] }), (error: Error & { code?: string }) => error.code === 'deploy-timeout' && /no outcome after 1000 ms: the deploy i-2 is in-progress/.test(error.message));
  assert.throws(() => assertFollowEnded('interrupted', going, { timeoutMs: 1_000, events: [] }), (error: Error & { code?: string }) => error.code === 'interrupted');
  assert.doesNotThrow(() => assertFollowEnded('done', going, { timeoutMs: 1_000, events: [] }));
});
