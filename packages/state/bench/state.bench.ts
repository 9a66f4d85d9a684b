/**
 * Versioned-state benchmark: `npm run bench:state -- [--json] [--writes N] [--versions N]`.
 *
 * Per backend (nats-kv on its own nats-server, firestore through the real client against the
 * in-process emulator):
 * - `writes`: one writer, one document, sequential writes of ~1 KB data: versioned (StateStore.put)
 *   beside plain unversioned writes of the same bytes to the same backend (KV put / doc set);
 *   `overhead` = plain per second ÷ versioned per second;
 * - `verify`: StateStore.verify of one document with N versions (default 10,000), in versions per
 *   second. The history is seeded straight into the backend (each record sealed and chained by the
 *   library) so the seeding time does not count.
 * One JSON line per case with --json.
 */
import { parseArgs } from 'node:util';
import { Firestore } from '@google-cloud/firestore';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connectNats } from '@agentbus/bus';
import { startNats, uniqueName } from '@agentbus/testkit';
import { encodeRecord, ensureStateBucket, normalizeData, openFirestoreBackend, openNatsKvBackend, sealVersion, stateBucketConfig, StateStore, type VersionRecord } from '@agentbus/state';
import { startFirestoreEmulator } from '../test/harness/firestore-emulator.ts';

const { values } = parseArgs({ options: { json: { type: 'boolean' }, writes: { type: 'string' }, versions: { type: 'string' } } });
const writes = Number(values.writes ?? 1000);
const versions = Number(values.versions ?? 10_000);
const json = values.json ?? false;

interface Result {
  case: string;
  backend: string;
  [field: string]: unknown;
}

function report(result: Result): void {
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else process.stdout.write(`${result.backend.padEnd(10)} ${result.case.padEnd(7)} ${Object.entries(result).filter(([key]) => key !== 'case' && key !== 'backend').map(([key, value]) => `${key}=${value}`).join(' ')}\n`);
}

/** ~1 KB of document data that changes with `step`. */
function documentData(step: number): Record<string, unknown> {
  return {
    step,
    service: 'api-gateway',
    replicas: 3 + (step % 5),
    image: `registry.example/api-gateway:${step}`,
    env: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`VAR_${i}`, `value-${i}-${step}`])),
    owners: ['platform', 'sre', 'deployer-agent'],
    notes: 'x'.repeat(300),
  };
}

async function timed(count: number, run: (i: number) => Promise<unknown>): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < count; i++) await run(i);
  return (performance.now() - started) / 1000;
}

function perSecond(count: number, seconds: number): number {
  return Math.round(count / seconds);
}

/** A chain of `count` sealed versions of one document, as the library would have written them. */
function chain(path: string, count: number): VersionRecord[] {
  const records: VersionRecord[] = [];
  let previous: VersionRecord | undefined;
  for (let n = 1; n <= count; n++) {
    const record = sealVersion(path, normalizeData(documentData(n)), { agent: 'bench', taskId: null, reason: `seed ${n}`, timestamp: '2026-11-03T02:14:03.123456Z', writeId: `seed-${n}`, operation: 'put', restoredFrom: null }, previous?.envelope);
    records.push(record);
    previous = record;
  }
  return records;
}

async function verifyCase(backend: string, store: StateStore, path: string): Promise<void> {
  const started = performance.now();
  const result = await store.verify(path);
  const seconds = (performance.now() - started) / 1000;
  if (!result.ok || result.versions !== versions) throw new Error(`verify of the seeded history failed: ${JSON.stringify(result.firstBad)}`);
  report({ case: 'verify', backend, versions, versionsRead: result.versionsRead, seconds: Number(seconds.toFixed(3)), versionsPerSecond: perSecond(versions, seconds) });
}

async function natsKv(): Promise<void> {
  const server = await startNats();
  const nc = await connectNats({ servers: server.url, name: 'state-bench' });
  try {
    const bucket = uniqueName('bench_');
    await ensureStateBucket(nc, stateBucketConfig({ bucket }));
    const store = new StateStore({ backend: await openNatsKvBackend({ nc, bucket }), agent: 'bench' });
    const kv = await new Kvm(jetstream(nc)).open(bucket);
    const versioned = await timed(writes, (i) => store.put('bench/versioned', documentData(i), { reason: `write ${i}` }));
    const sample = encodeRecord(sealVersion('bench/plain', normalizeData(documentData(0)), { agent: 'bench', taskId: null, reason: 'x', timestamp: '2026-11-03T02:14:03.123456Z', writeId: 'x', operation: 'put', restoredFrom: null }, undefined));
    const plain = await timed(writes, () => kv.put('bench.plain', sample));
    report({ case: 'writes', backend: 'nats-kv', writes, versionedPerSecond: perSecond(writes, versioned), plainPerSecond: perSecond(writes, plain), overhead: Number((versioned / plain).toFixed(2)) });

    const path = 'bench/long';
    const records = chain(path, versions);
    for (let start = 0; start < records.length; start += 200) {
      await Promise.all(records.slice(start, start + 200).map((record) => kv.create(`bench.long.v.${record.envelope.number}`, encodeRecord(record))));
    }
    await kv.put('bench.long.head', encodeRecord(records.at(-1)!));
    await verifyCase('nats-kv', store, path);
  } finally {
    await nc.close();
    await server.stop();
  }
}

async function firestore(): Promise<void> {
  const emulator = await startFirestoreEmulator();
  const projectId = uniqueName('bench-');
  const db = new Firestore({ projectId, host: emulator.host, ssl: false, universeDomain: 'googleapis.com' } as ConstructorParameters<typeof Firestore>[0]);
  try {
    const store = new StateStore({ backend: await openFirestoreBackend({ firestore: db }), agent: 'bench' });
    const versioned = await timed(writes, (i) => store.put('bench/versioned', documentData(i), { reason: `write ${i}` }));
    const plain = await timed(writes, (i) => db.doc('bench/plain').set({ data: documentData(i) }));
    report({ case: 'writes', backend: 'firestore', writes, versionedPerSecond: perSecond(writes, versioned), plainPerSecond: perSecond(writes, plain), overhead: Number((versioned / plain).toFixed(2)) });

    const path = 'bench/long';
    const records = chain(path, versions);
    for (let start = 0; start < records.length; start += 500) {
      const batch = db.batch();
      for (const record of records.slice(start, start + 500)) batch.create(db.doc(`${path}/versions/${record.envelope.number}`), { envelope: record.envelope, data: record.data, signature: null });
      await batch.commit();
    }
    const last = records.at(-1)!;
    await db.doc(path).set({ envelope: last.envelope, data: last.data, signature: null });
    await verifyCase('firestore', store, path);
  } finally {
    await db.terminate();
    emulator.stop();
  }
}

await natsKv();
await firestore();
