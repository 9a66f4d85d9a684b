import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStateNotFound, StateVersionConflictError } from '@agentbus/state';
import { memoryStateStore } from '@agentbus/state/testing';

// The memory backend behind @agentbus/state/testing keeps the StateStore's contract that unit
// tests rely on (the conformance suite runs the real backends on their servers).

test('memory state: versions in order with their chain, a repeated writeId writes once, ifVersion guards, verify passes', async () => {
  const store = await memoryStateStore({ 'releases/api': { commit: 'a' } });
  await assert.rejects(store.get('releases/web'), isStateNotFound);
  const second = await store.put('releases/api', { commit: 'b' }, { reason: 'deploy b', writeId: 'w-b' });
  const repeated = await store.put('releases/api', { commit: 'b' }, { reason: 'deploy b', writeId: 'w-b' });
  assert.deepEqual([second.created, second.version.envelope.number, repeated.created, repeated.version.envelope.number], [true, 2, false, 2]);
  await assert.rejects(store.put('releases/api', { commit: 'c' }, { reason: 'stale', ifVersion: 1 }), StateVersionConflictError);
  const head = await store.get('releases/api');
  assert.deepEqual([head.envelope.number, head.data, head.envelope.agent], [2, { commit: 'b' }, 'test']);
  assert.equal(head.envelope.previousHash, (await store.get('releases/api', { version: 1 })).envelope.hash);
  assert.deepEqual((await store.history('releases/api')).entries.map((e) => e.number), [2, 1]);
  assert.equal((await store.verify('releases/api')).ok, true);
  assert.deepEqual(await store.listDocuments(), ['releases/api']);
});
