import { Firestore, type DocumentData, type DocumentReference } from '@google-cloud/firestore';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '@agentbus/bus';
import { startNats, uniqueName, type NatsServer } from '@agentbus/testkit';
import { DEFAULT_STATE_BUCKET, encodeRecord, ensureStateBucket, openFirestoreBackend, openNatsKvBackend, stateBucketConfig, FIRESTORE_INDEX_COLLECTION, type BackendKind, type StateBackend, type VersionRecord } from '@agentbus/state';
import { startFirestoreEmulator, type FirestoreEmulator } from './firestore-emulator.ts';

/** A stored record as plain fields, to edit in place. */
export type MutableRecord = { envelope: Record<string, unknown>; data: Record<string, unknown>; signature: unknown };

/**
 * Direct access to a backend's storage that bypasses the library: how the tests tamper with
 * history and check that stored records stay byte-identical.
 */
export interface Tamper {
  /** Stable bytes (value and storage revision) of a version record; undefined when there is none. */
  versionBytes(path: string, number: number): Promise<string | undefined>;
  headBytes(path: string): Promise<string | undefined>;
  editVersion(path: string, number: number, mutate: (record: MutableRecord) => void): Promise<void>;
  editHead(path: string, mutate: (record: MutableRecord) => void): Promise<void>;
  deleteVersion(path: string, number: number): Promise<void>;
  deleteHead(path: string): Promise<void>;
  swapVersions(path: string, a: number, b: number): Promise<void>;
  /** Overwrites version `to.number` of `to.path` with the stored record of `from`. */
  copyVersion(from: { path: string; number: number }, to: { path: string; number: number }): Promise<void>;
  /** Overwrites the head of `to` with the stored version `from`. */
  headFromVersion(from: { path: string; number: number }, to: string): Promise<void>;
  /** Creates a version record and nothing else: what a writer leaves when it stops right after. */
  storeVersionOnly(path: string, record: VersionRecord): Promise<void>;
  deleteIndexEntry(path: string): Promise<void>;
}

export interface BackendFixture {
  backend: StateBackend;
  tamper: Tamper;
  /** Opens another backend on the same storage (another writer). */
  openAnother(): Promise<StateBackend>;
  /** Environment for `agentbus state` processes that should use the same storage. */
  cliEnv: Record<string, string>;
  dispose(): Promise<void>;
}

export interface BackendHarness {
  kind: BackendKind;
  /** Starts the server (once per test file). */
  start(): Promise<void>;
  /**
   * A backend on fresh, unshared storage (its own bucket / project). `defaultBucket`: use the
   * bucket the CLI uses (only in a file whose server no other test shares).
   */
  fixture(options?: { defaultBucket?: boolean }): Promise<BackendFixture>;
  stop(): Promise<void>;
}

function split(path: string): [string, string] {
  const [collection, id] = path.split('/') as [string, string];
  return [collection, id];
}

// ---------------------------------------------------------------------------------------- nats-kv

export function natsKvHarness(): BackendHarness {
  let server: NatsServer | undefined;
  let nc: NatsConnection | undefined;
  return {
    kind: 'nats-kv',
    async start() {
      server = await startNats();
      nc = await connectNats({ servers: server.url, name: 'state-tests' });
    },
    async fixture(options = {}) {
      const bucket = options.defaultBucket ? DEFAULT_STATE_BUCKET : uniqueName('state_');
      await ensureStateBucket(nc!, stateBucketConfig({ bucket }));
      const kv = await new Kvm(jetstream(nc!)).open(bucket);
      const extra: NatsConnection[] = [];
      return {
        backend: await openNatsKvBackend({ nc: nc!, bucket }),
        tamper: natsKvTamper(kv),
        async openAnother() {
          const other = await connectNats({ servers: server!.url, name: 'state-tests-writer' });
          extra.push(other);
          return openNatsKvBackend({ nc: other, bucket });
        },
        cliEnv: { NATS_URL: server!.url, AGENTBUS_STATE_BACKEND: 'nats-kv' },
        async dispose() {
          await Promise.all(extra.map((other) => other.close()));
        },
      };
    },
    async stop() {
      await nc?.close();
      await server?.stop();
    },
  };
}

function natsKvTamper(kv: KV): Tamper {
  const key = (path: string, suffix: string) => `${split(path).join('.')}.${suffix}`;
  const bytes = async (k: string) => {
    const entry = await kv.get(k);
    return entry && entry.operation === 'PUT' ? `${entry.revision}:${Buffer.from(entry.value).toString('base64')}` : undefined;
  };
  const read = async (k: string): Promise<MutableRecord> => {
    const entry = await kv.get(k);
    if (!entry || entry.operation !== 'PUT') throw new Error(`tamper: nothing stored at ${k}`);
    return JSON.parse(entry.string()) as MutableRecord;
  };
  const edit = async (k: string, mutate: (record: MutableRecord) => void) => {
    const record = await read(k);
    mutate(record);
    await kv.put(k, JSON.stringify(record));
  };
  return {
    versionBytes: (path, number) => bytes(key(path, `v.${number}`)),
    headBytes: (path) => bytes(key(path, 'head')),
    editVersion: (path, number, mutate) => edit(key(path, `v.${number}`), mutate),
    editHead: (path, mutate) => edit(key(path, 'head'), mutate),
    deleteVersion: async (path, number) => {
      await kv.delete(key(path, `v.${number}`));
    },
    deleteHead: async (path) => {
      await kv.delete(key(path, 'head'));
    },
    async swapVersions(path, a, b) {
      const [first, second] = await Promise.all([read(key(path, `v.${a}`)), read(key(path, `v.${b}`))]);
      await kv.put(key(path, `v.${a}`), JSON.stringify(second));
      await kv.put(key(path, `v.${b}`), JSON.stringify(first));
    },
    async copyVersion(from, to) {
      await kv.put(key(to.path, `v.${to.number}`), JSON.stringify(await read(key(from.path, `v.${from.number}`))));
    },
    async headFromVersion(from, to) {
      await kv.put(key(to, 'head'), JSON.stringify(await read(key(from.path, `v.${from.number}`))));
    },
    async storeVersionOnly(path, record) {
      await kv.create(key(path, `v.${record.envelope.number}`), encodeRecord(record));
    },
    async deleteIndexEntry(path) {
      await kv.delete(`_index.${split(path).join('.')}`);
    },
  };
}

// -------------------------------------------------------------------------------------- firestore

export function firestoreHarness(): BackendHarness {
  let emulator: FirestoreEmulator | undefined;
  return {
    kind: 'firestore',
    async start() {
      emulator = await startFirestoreEmulator();
    },
    async fixture() {
      const projectId = uniqueName('state-');
      const clients: Firestore[] = [];
      const client = () => {
        const db = new Firestore({ projectId, host: emulator!.host, ssl: false, universeDomain: 'googleapis.com' } as ConstructorParameters<typeof Firestore>[0]);
        clients.push(db);
        return db;
      };
      const db = client();
      return {
        // The fixture's own backend goes through the library's settings path (emulatorHost).
        backend: await openFirestoreBackend({ projectId, emulatorHost: emulator!.host }),
        tamper: firestoreTamper(db),
        openAnother: () => openFirestoreBackend({ firestore: client() }),
        cliEnv: { AGENTBUS_STATE_BACKEND: 'firestore', FIRESTORE_PROJECT_ID: projectId, FIRESTORE_EMULATOR_HOST: emulator!.host },
        async dispose() {
          await Promise.all(clients.map((c) => c.terminate()));
        },
      };
    },
    async stop() {
      emulator?.stop();
    },
  };
}

function firestoreTamper(db: Firestore): Tamper {
  const head = (path: string) => db.doc(path);
  const version = (path: string, number: number) => db.doc(`${path}/versions/${number}`);
  const bytes = async (ref: DocumentReference) => {
    const snapshot = await ref.get();
    return snapshot.exists ? `${snapshot.updateTime!.seconds}.${snapshot.updateTime!.nanoseconds}:${JSON.stringify(snapshot.data())}` : undefined;
  };
  const read = async (ref: DocumentReference): Promise<DocumentData> => {
    const snapshot = await ref.get();
    if (!snapshot.exists) throw new Error(`tamper: nothing stored at ${ref.path}`);
    return snapshot.data()!;
  };
  const edit = async (ref: DocumentReference, mutate: (record: MutableRecord) => void) => {
    const record = await read(ref);
    mutate(record as MutableRecord);
    await ref.set(record);
  };
  return {
    versionBytes: (path, number) => bytes(version(path, number)),
    headBytes: (path) => bytes(head(path)),
    editVersion: (path, number, mutate) => edit(version(path, number), mutate),
    editHead: (path, mutate) => edit(head(path), mutate),
    deleteVersion: async (path, number) => {
      await version(path, number).delete();
    },
    deleteHead: async (path) => {
      await head(path).delete();
    },
    async swapVersions(path, a, b) {
      const [first, second] = await Promise.all([read(version(path, a)), read(version(path, b))]);
      await version(path, a).set(second);
      await version(path, b).set(first);
    },
    async copyVersion(from, to) {
      await version(to.path, to.number).set(await read(version(from.path, from.number)));
    },
    async headFromVersion(from, to) {
      await head(to).set(await read(version(from.path, from.number)));
    },
    async storeVersionOnly(path, record) {
      await version(path, record.envelope.number).create({ envelope: record.envelope, data: record.data, signature: record.signature });
    },
    async deleteIndexEntry(path) {
      await db.collection(FIRESTORE_INDEX_COLLECTION).doc(split(path).join(':')).delete();
    },
  };
}
