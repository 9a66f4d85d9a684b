import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentbusError } from '@agentbus/contracts';
import {
  canonicalJson,
  generateSigningKey,
  normalizeData,
  recomputeHashes,
  sealVersion,
  StateConflictError,
  StateIntegrityError,
  StateStore,
  StateVersionConflictError,
  StateWriteIdReusedError,
  type StateBackend,
  type StateStoreOptions,
  type VersionEnvelope,
} from '@agentbus/state';
import type { BackendFixture, BackendHarness } from './harness/backends.ts';

/** Hash of the round-trip fixture below. Pinned: a change here is a change of the hash scheme. */
const FIXTURE_HASH = 'sha256:6fc13acb16f4da07f57cf7e14085ad908878da733fd16e246be92af86e93e2f7';

type Context = BackendFixture & { store: StateStore };

/**
 * The behaviour every StateBackend must have, run against each one (nats-kv on a real
 * nats-server, firestore through the real client against the in-process emulator). Where the
 * backends differ by design (is the head committed with its version?) the suite asserts the
 * behaviour each one promises, through `backend.atomicHead`.
 */
export function conformanceSuite(harness: BackendHarness): void {
  describe(`state conformance: ${harness.kind}`, () => {
    before(() => harness.start());
    after(() => harness.stop());

    async function withStore(run: (context: Context) => Promise<void>, options: Partial<StateStoreOptions> = {}): Promise<void> {
      const fixture = await harness.fixture();
      const store = new StateStore({ backend: fixture.backend, agent: 'tester', ...options });
      try {
        await run({ ...fixture, store });
      } finally {
        await store.close();
        await fixture.dispose();
      }
    }

    test('writes versions 1, 2, 3 … with their envelope; reads the head, any version, the history and a diff', () =>
      withStore(async ({ store }) => {
        const path = 'services/api';
        const first = await store.put(path, { replicas: 2, image: 'api:1' }, { reason: 'create', agent: 'deployer', taskId: 'task-9' });
        assert.equal(first.created, true);
        const e1 = first.version.envelope;
        assert.deepEqual(
          { number: e1.number, agent: e1.agent, taskId: e1.taskId, reason: e1.reason, previousHash: e1.previousHash, operation: e1.operation, path: e1.path, format: e1.format },
          { number: 1, agent: 'deployer', taskId: 'task-9', reason: 'create', previousHash: null, operation: 'put', path, format: 1 },
        );
        assert.match(e1.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
        assert.match(e1.writeId, /^[0-9a-f-]{36}$/);
        const second = await store.put(path, { replicas: 3, image: 'api:1' }, { reason: 'scale up' });
        assert.equal(second.version.envelope.number, 2);
        assert.equal(second.version.envelope.previousHash, e1.hash);
        assert.equal(second.version.envelope.agent, 'tester', 'the store default agent');

        const head = await store.get(path);
        assert.deepEqual([head.envelope.number, head.data, head.integrity], [2, { replicas: 3, image: 'api:1' }, null]);
        assert.deepEqual((await store.get(path, { version: 1 })).data, { replicas: 2, image: 'api:1' });
        const history = await store.history(path);
        assert.equal(history.latest, 2);
        assert.deepEqual(history.entries.map((entry) => [entry.number, entry.envelope?.reason, entry.integrity]), [[2, 'scale up', null], [1, 'create', null]]);
        const diff = await store.diff(path, 1, 'head');
        assert.deepEqual(diff.changes, [{ kind: 'changed', field: 'replicas', pointer: '/replicas', before: 2, after: 3 }]);
        assert.deepEqual([diff.from.number, diff.to.number], [1, 2]);
        const report = await store.verify(path);
        assert.deepEqual([report.ok, report.versions, report.head, report.versionsRead, report.problems], [true, 2, 2, 2, []]);
        assert.deepEqual(await store.listDocuments(), [path]);
      }));

    test('20 concurrent writers × 10 writes end with versions 1..200, every write present once, and verify passes', () =>
      withStore(async ({ store, openAnother }) => {
        const path = 'incidents/hot';
        const backends: StateBackend[] = [store.backend, ...(await Promise.all([0, 1, 2].map(() => openAnother())))];
        const writers = Array.from({ length: 20 }, (_, w) => new StateStore({ backend: backends[w % backends.length]!, agent: `writer-${w}` }));
        await Promise.all(
          writers.map(async (writer, w) => {
            for (let i = 0; i < 10; i++) await writer.put(path, { writer: w, write: i }, { reason: `writer ${w} write ${i}`, writeId: `w${w}-${i}` });
          }),
        );
        const history = await store.history(path, { limit: 500 });
        assert.equal(history.latest, 200);
        assert.deepEqual(history.entries.map((entry) => entry.number), Array.from({ length: 200 }, (_, i) => 200 - i), 'versions 1..200, no gap, no duplicate');
        const writeIds = history.entries.map((entry) => entry.envelope!.writeId);
        assert.equal(new Set(writeIds).size, 200, 'every write once');
        assert.deepEqual(new Set(writeIds), new Set(Array.from({ length: 200 }, (_, i) => `w${Math.floor(i / 10)}-${i % 10}`)));
        const report = await store.verify(path);
        assert.deepEqual([report.ok, report.versions, report.head, report.problems, report.warnings], [true, 200, 200, [], []]);
        await Promise.all(backends.slice(1).map((backend) => backend.close()));
      }));

    test('a retried write with the same writeId adds no version, even after others wrote', () =>
      withStore(async ({ store }) => {
        const path = 'services/api';
        const first = await store.put(path, { replicas: 1 }, { reason: 'deploy 42', writeId: 'deploy-42' });
        const retry = await store.put(path, { replicas: 1 }, { reason: 'deploy 42', writeId: 'deploy-42' });
        assert.deepEqual([retry.created, retry.version.envelope.number, retry.version.envelope.hash], [false, 1, first.version.envelope.hash]);
        await store.put(path, { replicas: 2 }, { reason: 'someone else' });
        const late = await store.put(path, { replicas: 1 }, { reason: 'deploy 42', writeId: 'deploy-42' });
        assert.deepEqual([late.created, late.version.envelope.number], [false, 1]);
        await assert.rejects(store.put(path, { replicas: 7 }, { reason: 'deploy 42', writeId: 'deploy-42' }), StateWriteIdReusedError);
        assert.equal((await store.get(path)).envelope.number, 2);
      }));

    test('ifVersion writes only on top of the version the caller read', () =>
      withStore(async ({ store }) => {
        const path = 'services/api';
        await store.put(path, { v: 1 }, { reason: 'create', ifVersion: 0 });
        await assert.rejects(store.put(path, { v: 2 }, { reason: 'stale', ifVersion: 0 }), (error: unknown) => error instanceof StateVersionConflictError && error.code === 'state-version-conflict');
        await store.put(path, { v: 2 }, { reason: 'fresh', ifVersion: 1 });
        assert.equal((await store.get(path)).envelope.number, 2);
      }));

    test('a writer that stopped between creating a version and the head leaves a document that reads, writes and verifies', () =>
      withStore(async ({ store, backend, tamper }) => {
        const path = 'services/api';
        await seed(store, path, 3);
        const head = await store.get(path);
        const orphan = sealVersion(path, normalizeData({ replicas: 9 }), { ...inputOf(head.envelope), agent: 'crashed', writeId: 'crash-1', reason: 'cut off' }, head.envelope);
        await tamper.storeVersionOnly(path, orphan);
        if (!backend.atomicHead) {
          assert.equal((await store.get(path)).envelope.number, 4, 'reads follow the version records, not the stale head');
          const report = await store.verify(path);
          assert.deepEqual([report.ok, report.head, report.warnings.map((w) => [w.number, w.reason])], [true, 3, [[4, 'head-behind']]]);
          // A reader saw version 4 (reads follow the versions) and writes on top of it: no conflict with the stale head.
          const next = await store.put(path, { replicas: 10 }, { reason: 'after the crash', ifVersion: 4 });
          assert.equal(next.version.envelope.number, 5);
          const retried = await store.put(path, { replicas: 9 }, { reason: 'cut off', agent: 'crashed', writeId: 'crash-1' });
          assert.deepEqual([retried.created, retried.version.envelope.number], [false, 4], 'the writeId is found although the crashed writer never wrote its index entry');
          const healed = await store.verify(path);
          assert.deepEqual([healed.ok, healed.head, healed.warnings], [true, 5, []]);
        } else {
          // The head is committed with its version: a version beyond the head is damage.
          const report = await store.verify(path);
          assert.deepEqual([report.ok, report.firstBad?.number, report.firstBad?.reason], [false, 4, 'head-mismatch']);
        }
      }));

    test('after the retry budget a writer fails with a typed conflict error and writes nothing', () =>
      withStore(
        async ({ store, backend, tamper }) => {
          const path = 'services/api';
          await seed(store, path, 2);
          const head = await store.get(path);
          // Another writer took version 3 without moving the head: this writer's first (and only) attempt loses.
          await tamper.storeVersionOnly(path, sealVersion(path, normalizeData({ other: true }), { ...inputOf(head.envelope), writeId: 'other' }, head.envelope));
          const before = await snapshot(tamper, path, 4);
          await assert.rejects(store.put(path, { mine: true }, { reason: 'mine', writeId: 'mine-1' }), (error: unknown) => {
            assert.ok(error instanceof StateConflictError);
            assert.deepEqual([error.code, error.retryable, error.details.attempts], ['state-conflict', true, 1]);
            return true;
          });
          assert.deepEqual(await snapshot(tamper, path, 4), before, 'nothing partial was written');
          if (!backend.atomicHead) {
            const patient = new StateStore({ backend, agent: 'tester' });
            const retried = await patient.put(path, { mine: true }, { reason: 'mine', writeId: 'mine-1' });
            assert.deepEqual([retried.created, retried.version.envelope.number], [true, 4]);
          }
        },
        { retry: { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0 } },
      ));

    test('bad input gives a clear error and writes nothing', () =>
      withStore(async ({ store, tamper }) => {
        const path = 'services/api';
        await seed(store, path, 2);
        const before = await snapshot(tamper, path, 3);
        const cases: Array<[string, () => Promise<unknown>, string, RegExp]> = [
          ['path without id', () => store.put('services', { a: 1 }, { reason: 'x' }), 'state-invalid-path', /no \/<id> part/],
          ['path with a dot', () => store.put('services/a.b', { a: 1 }, { reason: 'x' }), 'state-invalid-path', /contains "\."/],
          ['data not an object', () => store.put(path, [1], { reason: 'x' }), 'state-invalid-data', /must be a JSON object/],
          ['undefined in data', () => store.put(path, { a: { b: undefined } }, { reason: 'x' }), 'state-invalid-data', /data\.a\.b: is undefined/],
          ['NaN in data', () => store.put(path, { a: Number.NaN }, { reason: 'x' }), 'state-invalid-data', /data\.a: NaN/],
          ['empty reason', () => store.put(path, { a: 1 }, { reason: '' }), 'state-invalid-input', /reason is empty/],
          ['blank reason', () => store.put(path, { a: 1 }, { reason: '   ' }), 'state-invalid-input', /reason is empty/],
          ['unknown version', () => store.get(path, { version: 9 }), 'state-version-not-found', /has no version 9 \(its versions are 1 to 2\)/],
          ['version 0', () => store.get(path, { version: 0 }), 'state-invalid-input', /version must be an integer ≥ 1/],
          ['unknown document', () => store.get('services/none'), 'state-document-not-found', /services\/none does not exist/],
          ['diff to an unknown version', () => store.diff(path, 1, 7), 'state-version-not-found', /no version 7/],
          ['restore an unknown version', () => store.restore(path, 7, { reason: 'x' }), 'state-version-not-found', /no version 7/],
          ['restore without a reason', () => store.restore(path, 1, { reason: '' }), 'state-invalid-input', /reason is empty/],
          ['history limit 0', () => store.history(path, { limit: 0 }), 'state-invalid-input', /limit must be an integer ≥ 1/],
        ];
        for (const [name, run, code, message] of cases) {
          await assert.rejects(run(), (error: unknown) => {
            assert.ok(error instanceof AgentbusError, `${name}: ${String(error)}`);
            assert.equal(error.code, code, name);
            assert.match(error.message, message, name);
            assert.ok((error.hint ?? '').length > 10, `${name}: the error says what to do`);
            return true;
          });
        }
        assert.deepEqual(await snapshot(tamper, path, 3), before);
        assert.deepEqual(await store.listDocuments(), [path]);
      }));

    describe('tampering is detected and the first bad version named', () => {
      const cases: Array<{ name: string; damage: (context: Context, path: string) => Promise<void>; expect: (atomicHead: boolean) => { number: number; reason: string } | 'head-behind' }> = [
        { name: 'data changed', damage: ({ tamper }, path) => tamper.editVersion(path, 3, (r) => void (r.data.replicas = 99)), expect: () => ({ number: 3, reason: 'data-changed' }) },
        { name: 'envelope changed', damage: ({ tamper }, path) => tamper.editVersion(path, 2, (r) => void (r.envelope.reason = 'nothing to see')), expect: () => ({ number: 2, reason: 'envelope-changed' }) },
        { name: 'version missing', damage: ({ tamper }, path) => tamper.deleteVersion(path, 3), expect: () => ({ number: 3, reason: 'missing' }) },
        { name: 'last version missing', damage: ({ tamper }, path) => tamper.deleteVersion(path, 5), expect: () => ({ number: 5, reason: 'missing' }) },
        { name: 'versions swapped', damage: ({ tamper }, path) => tamper.swapVersions(path, 2, 3), expect: () => ({ number: 2, reason: 'swapped' }) },
        { name: 'unreadable record', damage: ({ tamper }, path) => tamper.editVersion(path, 4, (r) => void (r.envelope = 'garbage' as unknown as Record<string, unknown>)), expect: () => ({ number: 4, reason: 'unreadable' }) },
        {
          name: 'chain copied from another document',
          damage: async ({ store, tamper }, path) => {
            await seed(store, 'services/source', 5);
            for (let n = 1; n <= 5; n++) await tamper.copyVersion({ path: 'services/source', number: n }, { path, number: n });
            await tamper.headFromVersion({ path: 'services/source', number: 5 }, path);
          },
          expect: () => ({ number: 1, reason: 'copied' }),
        },
        { name: 'head data changed', damage: ({ tamper }, path) => tamper.editHead(path, (r) => void (r.data.replicas = 42)), expect: () => ({ number: 5, reason: 'head-mismatch' }) },
        {
          name: 'head deleted',
          damage: ({ tamper }, path) => tamper.deleteHead(path),
          expect: (atomicHead) => (atomicHead ? { number: 5, reason: 'head-missing' } : 'head-behind'),
        },
        {
          name: 'head replaced by an older version',
          damage: ({ tamper }, path) => tamper.headFromVersion({ path, number: 3 }, path),
          // Without an atomic head this is exactly the state a stopped writer leaves (see above).
          expect: (atomicHead) => (atomicHead ? { number: 5, reason: 'head-mismatch' } : 'head-behind'),
        },
      ];
      for (const { name, damage, expect } of cases) {
        test(name, () =>
          withStore(async (context) => {
            const path = 'services/api';
            await seed(context.store, path, 5);
            assert.equal((await context.store.verify(path)).ok, true);
            await damage(context, path);
            const report = await context.store.verify(path);
            const expected = expect(context.backend.atomicHead);
            if (expected === 'head-behind') {
              assert.deepEqual([report.ok, report.warnings.map((w) => [w.number, w.reason])], [true, [[5, 'head-behind']]]);
            } else {
              assert.equal(report.ok, false);
              assert.deepEqual({ number: report.firstBad?.number, reason: report.firstBad?.reason }, expected, report.firstBad?.message);
            }
          }));
      }
    });

    test('a re-linked chain passes the plain hash chain but not the signatures; unsigned versions are reported', () => {
      const deployer = generateSigningKey();
      const signing = { privateKeys: { deployer: deployer.privateKeyPem }, publicKeys: { deployer: deployer.publicKeyPem } };
      return withStore(
        async ({ store, backend, tamper }) => {
          const path = 'services/api';
          await seed(store, path, 4);
          const signed = await store.verify(path);
          assert.deepEqual([signed.ok, signed.signatures], [true, { checked: true, valid: 4, unsigned: 0, invalid: 0, unverifiable: 0 }]);
          // Someone with write access but without the key rewrites version 2 and re-links 3 and 4.
          let previous = (await store.get(path, { version: 1 })).envelope;
          for (let n = 2; n <= 4; n++) {
            const link = previous;
            await tamper.editVersion(path, n, (r) => {
              if (n === 2) r.data.replicas = 1000;
              r.envelope = { ...sealVersion(path, normalizeData(r.data), inputOf(r.envelope as unknown as VersionEnvelope), link).envelope };
            });
            previous = (await store.get(path, { version: n })).envelope;
          }
          await tamper.headFromVersion({ path, number: 4 }, path);
          const plain = await new StateStore({ backend }).verify(path);
          assert.equal(plain.ok, true, 'a consistent re-linked chain cannot be caught by hashes alone');
          const report = await store.verify(path);
          assert.deepEqual([report.ok, report.firstBad?.number, report.firstBad?.reason, report.signatures.invalid], [false, 2, 'bad-signature', 3]);
          await tamper.editVersion(path, 2, (r) => void (r.signature = null));
          const stripped = await store.verify(path);
          assert.deepEqual([stripped.firstBad?.number, stripped.firstBad?.reason, stripped.signatures.unsigned], [2, 'unsigned', 1]);
          await new StateStore({ backend, agent: 'keyless' }).put('services/other', { a: 1 }, { reason: 'unsigned write' });
          const other = await store.verify('services/other');
          assert.deepEqual([other.ok, other.signatures.unsigned], [true, 1], 'agents without a registered key may write unsigned versions, counted');
        },
        { agent: 'deployer', signing },
      );
    });

    test('restore writes a new version equal to version k, leaves every earlier record byte-identical; --dry-run writes nothing', () =>
      withStore(async ({ store, tamper }) => {
        const path = 'config/permissions';
        await store.put(path, { replicas: 2, image: 'api:1' }, { reason: 'v1' });
        await store.put(path, { replicas: 3, image: 'api:2' }, { reason: 'v2' });
        await store.put(path, { replicas: 3, image: 'api:3', debug: true }, { reason: 'v3' });
        const before = await snapshot(tamper, path, 4);
        const dry = await store.restore(path, 1, { reason: 'bad draft', dryRun: true });
        assert.deepEqual([dry.dryRun, dry.written, dry.target.number, dry.from.number, dry.version.number], [true, false, 1, 3, 3]);
        assert.deepEqual(dry.changes.map((change) => `${change.kind} ${change.field}`), ['removed debug', 'changed image', 'changed replicas']);
        assert.deepEqual(await snapshot(tamper, path, 4), before, 'a dry run writes nothing');

        const restored = await store.restore(path, 1, { reason: 'bad draft', agent: 'operator' });
        assert.deepEqual([restored.written, restored.version.number], [true, 4]);
        const head = await store.get(path);
        assert.deepEqual(head.data, (await store.get(path, { version: 1 })).data);
        assert.deepEqual([head.envelope.operation, head.envelope.restoredFrom, head.envelope.reason, head.envelope.agent], ['restore', 1, 'restore to version 1: bad draft', 'operator']);
        const after = await snapshot(tamper, path, 4);
        assert.deepEqual(after.versions.slice(0, 3), before.versions.slice(0, 3), 'versions 1..3 are byte-identical');
        assert.equal((await store.verify(path)).ok, true);

        const again = await store.restore(path, 1, { reason: 'bad draft' });
        assert.deepEqual([again.written, again.changes, (await store.get(path)).envelope.number], [false, [], 4], 'the head already has that data');
        await tamper.editVersion(path, 2, (r) => void (r.data.image = 'evil:1'));
        await assert.rejects(store.restore(path, 2, { reason: 'x' }), (error: unknown) => error instanceof StateIntegrityError && /version 2 .* fails verification/.test(error.message));
        assert.equal((await store.get(path)).envelope.number, 4);
      }));

    test('the same data hashes the same on every backend and after a round trip', () =>
      withStore(
        async ({ store }) => {
          const path = 'fixtures/roundtrip';
          const data = {
            at: new Date('2026-11-03T02:14:03.123Z'),
            precise: { $ts: '2026-11-03T02:14:03.123456789Z' },
            blob: new Uint8Array([0, 1, 2, 250]),
            big: 2n ** 70n,
            '10': 'ten',
            '2': 'two',
            unicode: { '€': 1, '😀': 2, 'דּ': 3, 'ö': 'é' },
            negZero: -0,
            large: 1e21,
            tiny: 1e-7,
            fraction: 0.1,
            nested: { list: [{ a: 1 }, 'x', null, true], empty: {} },
          };
          const result = await store.put(path, data, { reason: 'fixture', agent: 'fixture', writeId: 'fixture-1' });
          const expected = sealVersion(path, normalizeData(data), { agent: 'fixture', taskId: null, reason: 'fixture', timestamp: '2026-11-03T02:14:03.123456Z', writeId: 'fixture-1', operation: 'put', restoredFrom: null }, undefined);
          assert.equal(result.version.envelope.hash, expected.envelope.hash);
          assert.equal(result.version.envelope.hash, FIXTURE_HASH, 'pinned: the hash scheme is the same on every backend and release');
          const read = await store.get(path);
          assert.equal(canonicalJson(read.data), canonicalJson(expected.data));
          assert.deepEqual(recomputeHashes(read), { dataHash: expected.envelope.dataHash, hash: expected.envelope.hash });
          assert.equal(read.integrity, null);
          assert.equal((await store.verify(path)).ok, true);
        },
        { clock: () => 1_793_672_043_123_456n },
      ));

    test('verify --all walks every document the backend indexes and names the damaged one', () =>
      withStore(async ({ store, tamper }) => {
        await seed(store, 'services/a', 2);
        await seed(store, 'services/b', 3);
        await seed(store, 'jobs/c', 1);
        const clean = await store.verifyAll();
        assert.deepEqual([clean.ok, clean.documents.map((report) => report.path)], [true, ['jobs/c', 'services/a', 'services/b']]);
        await tamper.editVersion('services/b', 2, (r) => void (r.data.replicas = 0));
        const damaged = await store.verifyAll();
        assert.equal(damaged.ok, false);
        assert.deepEqual(damaged.documents.filter((report) => !report.ok).map((report) => [report.path, report.firstBad?.number, report.firstBad?.reason]), [['services/b', 2, 'data-changed']]);
        await tamper.deleteVersion('jobs/c', 1);
        await tamper.deleteHead('jobs/c');
        const gone = await store.verifyAll();
        assert.deepEqual(gone.documents.filter((report) => !report.ok).map((report) => [report.path, report.firstBad?.number, report.firstBad?.reason]), [['jobs/c', 1, 'missing'], ['services/b', 2, 'data-changed']], 'a document whose whole history was deleted');
        await tamper.deleteIndexEntry('services/a');
        assert.ok((await store.listDocuments()).includes('services/a'), 'a document whose index entry is lost is still found through its head');
      }));

    test('verify reads each version exactly once', () =>
      withStore(async ({ store, backend }) => {
        const path = 'services/api';
        await seed(store, path, 30);
        const counts = { scans: 0, scanned: 0, read: 0 };
        const counting: StateBackend = {
          kind: backend.kind,
          atomicHead: backend.atomicHead,
          append: (p, request) => backend.append(p, request),
          latest: (p) => backend.latest(p),
          readHead: (p) => backend.readHead(p),
          readVersions: (p, numbers) => {
            counts.read += numbers.length;
            return backend.readVersions(p, numbers);
          },
          async *scanVersions(p) {
            counts.scans += 1;
            for await (const slot of backend.scanVersions(p)) {
              counts.scanned += 1;
              yield slot;
            }
          },
          listDocuments: () => backend.listDocuments(),
          repairHead: (p, record) => backend.repairHead(p, record),
          close: () => backend.close(),
        };
        const report = await new StateStore({ backend: counting }).verify(path);
        assert.deepEqual([report.ok, report.versionsRead, counts], [true, 30, { scans: 1, scanned: 30, read: 0 }]);
      }));

    test('repair rewrites a damaged head from the last version and refuses when history is damaged', () =>
      withStore(async ({ store, tamper }) => {
        const path = 'services/api';
        await seed(store, path, 3);
        const versions = (await snapshot(tamper, path, 3)).versions;
        await tamper.editHead(path, (r) => void (r.data.replicas = 77));
        assert.equal((await store.verify(path)).firstBad?.reason, 'head-mismatch');
        const repaired = await store.repair(path);
        assert.deepEqual([repaired.repaired, repaired.head, repaired.report.ok], [true, 3, true]);
        assert.deepEqual((await store.get(path)).data, { step: 3, replicas: 3 });
        assert.deepEqual((await snapshot(tamper, path, 3)).versions, versions, 'repair never touches a version record');
        assert.equal((await store.repair(path)).repaired, false, 'nothing to repair');
        await tamper.editVersion(path, 2, (r) => void (r.data.replicas = 0));
        await assert.rejects(store.repair(path), (error: unknown) => error instanceof StateIntegrityError && /damaged at version 2/.test(error.message));
      }));
  });
}

async function seed(store: StateStore, path: string, versions: number): Promise<void> {
  for (let step = 1; step <= versions; step++) await store.put(path, { step, replicas: step }, { reason: `step ${step}` });
}

function inputOf(envelope: VersionEnvelope) {
  const { agent, taskId, reason, timestamp, writeId, operation, restoredFrom } = envelope;
  return { agent, taskId, reason, timestamp, writeId, operation, restoredFrom };
}

async function snapshot(tamper: Context['tamper'], path: string, upTo: number): Promise<{ head: string | undefined; versions: Array<string | undefined> }> {
  const versions = await Promise.all(Array.from({ length: upTo }, (_, i) => tamper.versionBytes(path, i + 1)));
  return { head: await tamper.headBytes(path), versions };
}
