import type { DocumentData, DocumentReference, DocumentSnapshot, Firestore, Transaction } from '@google-cloud/firestore';
import { BackendKinds, readableRecord, type AppendRequest, type AppendResult, type StateBackend, type StoredSlot, waitToRetry } from './backend.ts';
import { DocumentPathSet, type DocumentPath } from './document-path.ts';
import type { VersionRecord } from './envelope.ts';
import { isStateError, StateBackendError, StateConflictError, StateIntegrityError } from './errors.ts';
import { formatMicros, isPlainObject, timestampTagMicros, ValueTags, type JsonValue } from './normalize.ts';

/** Collection of the document index (one document per versioned document), for verify --all. */
export const FIRESTORE_INDEX_COLLECTION = '_agentbus_state_index';

export interface FirestoreBackendOptions {
  /** A client you configured (and close yourself). Otherwise one is made from the fields below. */
  firestore?: Firestore;
  projectId?: string;
  databaseId?: string;
  /** `host:port` of an emulator: plain-text gRPC, no Google credentials, no metadata-server look-ups. */
  emulatorHost?: string;
}

type FirestoreModule = typeof import('@google-cloud/firestore');

/**
 * Layout (document `<c>/<id>`):
 * - `<c>/<id>`                  head: a copy of the latest version
 * - `<c>/<id>/versions/<n>`     version n, written with create() (must not exist), never updated
 * - `<c>/<id>/writes/<k>`       writeId index: {number, hash, writeId}
 * - `_agentbus_state_index/<c>:<id>`   document index (the emulator cannot list collections)
 * Every write is one transaction whose first write is the version create(): two writers that
 * read the same head cannot both commit, even on an emulator that does not isolate transactions
 * (and that applies a failing commit's earlier writes, hence the create goes first).
 */
export async function openFirestoreBackend(options: FirestoreBackendOptions): Promise<StateBackend> {
  // Loaded on demand: the nats-kv path never pays for the Google client libraries.
  const sdk: FirestoreModule = await import('@google-cloud/firestore');
  if (options.firestore) return new FirestoreBackend(sdk, options.firestore, false);
  if (!options.projectId) {
    throw new StateBackendError(BackendKinds.firestore, 'opening Firestore', new Error('no project id'), 'set FIRESTORE_PROJECT_ID (and FIRESTORE_EMULATOR_HOST for the emulator)', false);
  }
  const settings: ConstructorParameters<FirestoreModule['Firestore']>[0] = { projectId: options.projectId, ignoreUndefinedProperties: false };
  if (options.databaseId) settings.databaseId = options.databaseId;
  if (options.emulatorHost) Object.assign(settings, { host: options.emulatorHost, ssl: false, universeDomain: 'googleapis.com' });
  return new FirestoreBackend(sdk, new sdk.Firestore(settings), true);
}

/** gRPC status codes this backend reacts to. */
const Status = { cancelled: 1, unknown: 2, deadlineExceeded: 4, alreadyExists: 6, aborted: 10, internal: 13, unavailable: 14 } as const;
/** Lost the race for the version number: retry on the new head. */
const contentionCodes = new Set<number>([Status.alreadyExists, Status.aborted]);
/** The commit may or may not have happened: retrying is safe because the writeId index catches a second apply. */
const transientCodes = new Set<number>([Status.cancelled, Status.deadlineExceeded, Status.internal, Status.unavailable]);
const MAX_TRANSIENT_ATTEMPTS = 5;

function grpcCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

function firestoreFailure(action: string, error: unknown): StateBackendError {
  const code = grpcCode(error);
  return new StateBackendError(
    BackendKinds.firestore,
    action,
    error,
    'check FIRESTORE_PROJECT_ID and the Google credentials (or FIRESTORE_EMULATOR_HOST for the emulator)',
    code === undefined || transientCodes.has(code),
  );
}

/** The head is missing but version 1 exists (see append). */
class HeadlessHistory extends Error {}

class FirestoreBackend implements StateBackend {
  readonly kind = BackendKinds.firestore;
  readonly atomicHead = true;
  readonly #sdk: FirestoreModule;
  readonly #db: Firestore;
  readonly #owned: boolean;

  constructor(sdk: FirestoreModule, db: Firestore, owned: boolean) {
    this.#sdk = sdk;
    this.#db = db;
    this.#owned = owned;
  }

  #head(path: DocumentPath): DocumentReference {
    return this.#db.collection(path.collection).doc(path.id);
  }

  #version(path: DocumentPath, number: number): DocumentReference {
    return this.#head(path).collection('versions').doc(String(number));
  }

  #write(path: DocumentPath, writeKey: string): DocumentReference {
    return this.#head(path).collection('writes').doc(writeKey);
  }

  #index(path: DocumentPath): DocumentReference {
    return this.#db.collection(FIRESTORE_INDEX_COLLECTION).doc(`${path.collection}:${path.id}`);
  }

  /** Record fields as Firestore stores them: `$ts` as Timestamp, `$bytes` as bytes, server commit time beside. */
  #fields(record: VersionRecord): DocumentData {
    return {
      envelope: record.envelope,
      data: this.#toFirestore(record.data),
      signature: record.signature,
      committedAt: this.#sdk.FieldValue.serverTimestamp(),
    };
  }

  #toFirestore(value: JsonValue): unknown {
    if (Array.isArray(value)) return value.map((item) => this.#toFirestore(item));
    if (!isPlainObject(value)) return value;
    const keys = Object.keys(value);
    if (keys.length === 1 && typeof value[keys[0]!] === 'string') {
      const text = value[keys[0]!] as string;
      if (keys[0] === ValueTags.timestamp) {
        const micros = timestampTagMicros(text);
        const seconds = micros >= 0n ? micros / 1_000_000n : -((-micros + 999_999n) / 1_000_000n);
        return new this.#sdk.Timestamp(Number(seconds), Number(micros - seconds * 1_000_000n) * 1000);
      }
      if (keys[0] === ValueTags.bytes) return Buffer.from(text, 'base64');
    }
    return Object.fromEntries(keys.map((key) => [key, this.#toFirestore(value[key]!)]));
  }

  /** The stored fields, with the server commit time as text; the data is normalized by parseRecord. */
  #raw(snapshot: DocumentSnapshot): unknown {
    if (!snapshot.exists) return undefined;
    const fields = snapshot.data() ?? {};
    const committedAt = fields.committedAt as { seconds?: unknown; nanoseconds?: unknown } | undefined;
    const raw: Record<string, unknown> = { ...fields };
    if (typeof committedAt?.seconds === 'number' && typeof committedAt.nanoseconds === 'number') {
      raw.committedAt = formatMicros(BigInt(committedAt.seconds) * 1_000_000n + BigInt(Math.floor(committedAt.nanoseconds / 1000)));
    } else {
      delete raw.committedAt;
    }
    return raw;
  }

  async append(path: DocumentPath, request: AppendRequest): Promise<AppendResult> {
    let attempts = 0;
    let transientFailures = 0;
    let headless = 0;
    for (;;) {
      attempts += 1;
      try {
        const outcome = await this.#db.runTransaction((tx) => this.#appendOnce(tx, path, request), { maxAttempts: 1 });
        return { ...outcome, attempts };
      } catch (error) {
        if (isStateError(error)) throw error;
        if (error instanceof HeadlessHistory) {
          // Seen twice in a row it is damage; once, it can be a first writer committing between
          // this transaction's reads (the emulator does not isolate them).
          if (++headless >= 2) {
            throw new StateIntegrityError(`${path.text} has versions but no head document`, `run \`agentbus state verify ${path.text}\`, then \`agentbus state repair ${path.text}\` to rewrite the head from the last version`, { path: path.text });
          }
          await waitToRetry(request.retry, attempts);
          continue;
        }
        headless = 0;
        const code = grpcCode(error);
        if (code !== undefined && contentionCodes.has(code)) {
          if (attempts >= request.retry.maxAttempts) throw new StateConflictError(path.text, attempts, error);
        } else if (code !== undefined && transientCodes.has(code) && ++transientFailures < MAX_TRANSIENT_ATTEMPTS) {
          // ambiguous or transient: the next attempt finds the writeId if the commit went through
        } else {
          throw firestoreFailure(`writing ${path.text}`, error);
        }
        await waitToRetry(request.retry, attempts);
      }
    }
  }

  async #appendOnce(tx: Transaction, path: DocumentPath, request: AppendRequest): Promise<{ record: VersionRecord; created: boolean }> {
    const writeRef = this.#write(path, request.writeKey);
    const [headSnap, writeSnap] = await tx.getAll(this.#head(path), writeRef);
    if (writeSnap?.exists) {
      const number = writeSnap.get('number') as unknown;
      const versionSnap = typeof number === 'number' ? await tx.get(this.#version(path, number)) : undefined;
      const record = versionSnap?.exists ? readableRecord(this.#raw(versionSnap), path, `version ${number}`) : undefined;
      if (!record || record.envelope.writeId !== request.writeId) {
        throw new StateIntegrityError(`the writeId index of ${path.text} points at version ${String(number)}, which is not the version that writeId wrote`, `run \`agentbus state verify ${path.text}\``, { path: path.text });
      }
      return { record, created: false };
    }
    const latest = headSnap?.exists ? readableRecord(this.#raw(headSnap), path, 'the head') : undefined;
    if (!latest && (await tx.get(this.#version(path, 1))).exists) throw new HeadlessHistory();
    const next = request.build(latest);
    const fields = this.#fields(next);
    // First write: the must-not-exist precondition that serializes writers.
    tx.create(this.#version(path, next.envelope.number), fields);
    tx.set(writeRef, { number: next.envelope.number, hash: next.envelope.hash, writeId: next.envelope.writeId });
    if (!latest) tx.set(this.#index(path), { path: path.text, collection: path.collection, id: path.id });
    tx.set(this.#head(path), fields);
    return { record: next, created: true };
  }

  async latest(path: DocumentPath): Promise<VersionRecord | undefined> {
    const raw = await this.readHead(path);
    return raw === undefined ? undefined : readableRecord(raw, path, 'the head');
  }

  async readHead(path: DocumentPath): Promise<unknown> {
    try {
      return this.#raw(await this.#head(path).get());
    } catch (error) {
      throw firestoreFailure(`reading ${path.text}`, error);
    }
  }

  async readVersions(path: DocumentPath, numbers: readonly number[]): Promise<unknown[]> {
    const results: unknown[] = [];
    try {
      for (let start = 0; start < numbers.length; start += 100) {
        const refs = numbers.slice(start, start + 100).map((number) => this.#version(path, number));
        if (refs.length === 0) continue;
        const snapshots = await this.#db.getAll(...refs);
        results.push(...snapshots.map((snapshot) => this.#raw(snapshot)));
      }
    } catch (error) {
      throw firestoreFailure(`reading versions of ${path.text}`, error);
    }
    return results;
  }

  async *scanVersions(path: DocumentPath): AsyncIterable<StoredSlot> {
    const stream = this.#head(path).collection('versions').stream() as AsyncIterable<DocumentSnapshot>;
    try {
      for await (const snapshot of stream) {
        const number = Number(snapshot.id);
        if (!/^[1-9]\d*$/.test(snapshot.id) || !Number.isSafeInteger(number)) continue;
        yield { number, raw: this.#raw(snapshot) };
      }
    } catch (error) {
      throw isStateError(error) ? error : firestoreFailure(`reading the versions of ${path.text}`, error);
    }
  }

  async listDocuments(): Promise<DocumentPath[]> {
    const found = new DocumentPathSet();
    try {
      const index = await this.#db.collection(FIRESTORE_INDEX_COLLECTION).get();
      for (const doc of index.docs) found.add(doc.get('path'));
      // Heads of the known collections too: a document whose index entry was lost is still found.
      for (const collection of found.collections()) {
        const heads = await this.#db.collection(collection).select().get();
        for (const doc of heads.docs) found.add(`${collection}/${doc.id}`);
      }
    } catch (error) {
      throw firestoreFailure('listing documents', error);
    }
    return found.sorted();
  }

  async repairHead(path: DocumentPath, record: VersionRecord): Promise<void> {
    try {
      await this.#head(path).set(this.#fields(record));
    } catch (error) {
      throw firestoreFailure(`rewriting the head of ${path.text}`, error);
    }
  }

  async close(): Promise<void> {
    if (this.#owned) await this.#db.terminate();
  }
}
