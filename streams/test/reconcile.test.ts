import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reconcile, type Reconcilable } from '@agentbus/streams';

/** An object on a pretend server: records what reconcile did to it. */
function object(current: Record<string, unknown> | undefined, overrides: Partial<Reconcilable> = {}) {
  const calls: string[] = [];
  const target: Reconcilable = {
    kind: 'stream',
    name: 'S',
    wanted: { subjects: ['a', 'b'], max_age: 10, storage: 'file' },
    read: async () => current,
    create: async () => void calls.push('create'),
    update: async (config) => void calls.push(`update from ${JSON.stringify(config)}`),
    immutable: ['storage'],
    ...overrides,
  };
  return { target, calls };
}

test('reconcile: creates what is missing, leaves an equal object alone (set fields in any order), updates what differs', async () => {
  const missing = object(undefined);
  assert.deepEqual(await reconcile(missing.target, false), { kind: 'stream', name: 'S', action: 'create', fields: [] });
  assert.deepEqual(missing.calls, ['create']);

  const equal = object({ subjects: ['b', 'a'], max_age: 10, storage: 'file', extra: 'server field' });
  assert.equal((await reconcile(equal.target, false)).action, 'unchanged');
  assert.deepEqual(equal.calls, []);

  const differs = object({ subjects: ['a', 'b'], max_age: 5, storage: 'file' });
  const change = await reconcile(differs.target, false);
  assert.deepEqual(change, { kind: 'stream', name: 'S', action: 'update', fields: ['max_age: 5 → 10'] });
  assert.equal(differs.calls.length, 1);
});

test('reconcile: a dry run reports the same changes and touches nothing', async () => {
  const missing = object(undefined);
  assert.equal((await reconcile(missing.target, true)).action, 'create');
  const differs = object({ subjects: ['a'], max_age: 10, storage: 'file' });
  assert.equal((await reconcile(differs.target, true)).action, 'update');
  assert.deepEqual([...missing.calls, ...differs.calls], []);
});

test('reconcile: a difference in an immutable field is a conflict with its detail, and nothing is updated', async () => {
  const immutable = object({ subjects: ['a', 'b'], max_age: 5, storage: 'memory' }, { conflictDetail: (names) => `cannot change ${names.join(', ')}: back it up` });
  const change = await reconcile(immutable.target, false);
  assert.equal(change.action, 'conflict');
  assert.equal(change.detail, 'cannot change storage: back it up');
  assert.deepEqual(change.fields, ['max_age: 5 → 10', 'storage: "memory" → "file"']);
  assert.deepEqual(immutable.calls, []);
});

test('reconcile: an update the server refuses is a conflict when the object says so, thrown otherwise', async () => {
  const refuse = async () => {
    throw new Error('refused');
  };
  const reported = object({ max_age: 5 }, { update: refuse, immutable: [], refusedDetail: (error) => `server said ${(error as Error).message}` });
  assert.deepEqual(await reconcile(reported.target, false), { kind: 'stream', name: 'S', action: 'conflict', fields: ['subjects: null → ["a","b"]', 'max_age: 5 → 10', 'storage: null → "file"'], detail: 'server said refused' });
  await assert.rejects(reconcile(object({ max_age: 5 }, { update: refuse, immutable: [] }).target, false), /refused/);
});
