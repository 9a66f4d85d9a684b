import type { NatsConnection } from '@nats-io/transport-node';
import { JetStreamApiError, StorageType, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV, type KvOptions } from '@nats-io/kv';
import { isNoResponders, isStreamNotFound, isWrongLastSequence, retryTransient } from '@agentbus/bus';
import { BackendKinds, readableRecord, type AppendRequest, type AppendResult, type StateBackend, type StoredSlot, waitToRetry } from './backend.ts';
import { DocumentPathSet, writeKeyOf, type DocumentPath } from './document-path.ts';
import { decodeRecordBytes, encodeRecord, type VersionRecord } from './envelope.ts';
import { StateBackendError, StateBucketMissingError, StateConflictError, StateIntegrityError } from './errors.ts';
import { isPlainObject } from './normalize.ts';

export const DEFAULT_STATE_BUCKET = 'agentbus_state';
/**
 * How long one request to the bucket waits. A request to a stream without a leader (its leader's
 * node just died) gets no answer at all, so every attempt waits this long; an answer takes
 * milliseconds. Each request is tried again for up to STATE_RETRY_FOR_MS while it fails
 * transiently (a time-out, no responders), so a write does not fail for a leader election that a
 * cluster settles in seconds.
 */
const STATE_REQUEST_TIMEOUT_MS = 2_000;
const STATE_RETRY_FOR_MS = 20_000;
/** Largest value a key holds: a version record (data ≤ MAX_DATA_BYTES plus the envelope). */
const MAX_VALUE_BYTES = 1024 * 1024;

/**
 * The KV bucket the nats-kv backend needs, as data in the shape of the topology's bucket
 * definitions (streams/), so `agentbus streams apply` creates it with the other buckets.
 */
export interface StateBucketConfig {
  bucket: string;
  description: string;
  /** 1: version keys are create-only, so one revision per key is all there is to keep (the 64-revision KV cap never applies to a history). */
  history: number;
  /** 0: kept forever. */
  maxAgeMs: number;
  maxValueSize: number;
}

export function stateBucketConfig(options: { bucket?: string } = {}): StateBucketConfig {
  return {
    bucket: options.bucket ?? DEFAULT_STATE_BUCKET,
    description: 'agentbus versioned state: one create-only key per document version, plus head copies and writeId/document indexes',
    history: 1,
    maxAgeMs: 0,
    maxValueSize: MAX_VALUE_BYTES,
  };
}

/**
 * Creates the bucket when it does not exist (idempotent; existing settings are left alone), as
 * `agentbus streams apply` would. For tests, and for the CLI when the bucket is missing.
 */
export async function ensureStateBucket(nc: NatsConnection, config: StateBucketConfig = stateBucketConfig(), options: { replicas?: number } = {}): Promise<{ created: boolean }> {
  const jsm = await jetstreamManager(nc);
  if (await streamExists(jsm, streamOf(config.bucket))) return { created: false };
  const kvOptions: Partial<KvOptions> = { description: config.description, history: config.history, maxValueSize: config.maxValueSize, storage: StorageType.File, replicas: options.replicas ?? 1 };
  if (config.maxAgeMs > 0) kvOptions.ttl = config.maxAgeMs;
  await new Kvm(jetstream(nc)).create(config.bucket, kvOptions);
  return { created: true };
}

export interface NatsKvBackendOptions {
  nc: NatsConnection;
  bucket?: string;
}

/**
 * Key layout in the bucket (document `<c>/<id>`):
 * - `<c>.<id>.v.<n>`   version n, created with "expected last subject sequence 0" and never
 *                      touched again (not even deleted: a create after a delete would fall back to
 *                      the compare-and-set update that is unsafe on replicated streams in 2.9);
 * - `<c>.<id>.head`    a copy of the latest version, moved after the version is created;
 * - `<c>.<id>.w.<k>`   writeId index: {number, hash} of the version a writeId wrote;
 * - `_index.<c>.<id>`  one key per document, for listDocuments / verify --all.
 */
export async function openNatsKvBackend(options: NatsKvBackendOptions): Promise<StateBackend> {
  const bucket = options.bucket ?? DEFAULT_STATE_BUCKET;
  const js = jetstream(options.nc, { timeout: STATE_REQUEST_TIMEOUT_MS });
  const jsm = await jetstreamManager(options.nc, { timeout: STATE_REQUEST_TIMEOUT_MS });
  const exists = await streamExists(jsm, streamOf(bucket));
  const info = exists ? await retryTransient(() => jsm.streams.info(streamOf(bucket)), STATE_RETRY_FOR_MS) : undefined;
  const kv = await new Kvm(js).open(bucket, { allow_direct: info?.config.allow_direct ?? false });
  return new NatsKvBackend(bucket, js, jsm, kv, exists);
}

function streamOf(bucket: string): string {
  return `KV_${bucket}`;
}

async function streamExists(jsm: JetStreamManager, stream: string): Promise<boolean> {
  try {
    await retryTransient(() => jsm.streams.info(stream), STATE_RETRY_FOR_MS);
    return true;
  } catch (error) {
    if (isStreamNotFound(error)) return false;
    throw natsFailure('reading the state bucket', error);
  }
}

/** retryTransient for "no responders" only: the request reached no stream, so nothing was stored. */
function retryWhileNoResponders<T>(call: () => Promise<T>): Promise<T> {
  return retryTransient(async () => {
    try {
      return await call();
    } catch (error) {
      if (isNoResponders(error)) throw error;
      throw new NotTransient(error);
    }
  }, STATE_RETRY_FOR_MS).catch((error: unknown) => {
    throw error instanceof NotTransient ? error.original : error;
  });
}

/** Carries an error through retryTransient without being retried. */
class NotTransient extends Error {
  constructor(readonly original: unknown) {
    super('not transient');
  }
}

function natsFailure(action: string, error: unknown): StateBackendError {
  return new StateBackendError(BackendKinds.natsKv, action, error, 'check that NATS is reachable (NATS_URL) and runs with JetStream; the operation can be retried');
}

const keys = {
  prefix: (path: DocumentPath) => `${path.collection}.${path.id}`,
  head: (path: DocumentPath) => `${keys.prefix(path)}.head`,
  version: (path: DocumentPath, number: number) => `${keys.prefix(path)}.v.${number}`,
  versions: (path: DocumentPath) => `${keys.prefix(path)}.v.*`,
  write: (path: DocumentPath, writeKey: string) => `${keys.prefix(path)}.w.${writeKey}`,
  index: (path: DocumentPath) => `_index.${path.collection}.${path.id}`,
};

/** The number a stored head claims, without a full parse (0 when it claims none). */
function headNumberOf(raw: unknown): number {
  const envelope = isPlainObject(raw) ? raw.envelope : undefined;
  return isPlainObject(envelope) && typeof envelope.number === 'number' ? envelope.number : 0;
}

type Entry = { state: 'missing' } | { state: 'deleted'; revision: number } | { state: 'present'; raw: unknown; revision: number };

class NatsKvBackend implements StateBackend {
  readonly kind = BackendKinds.natsKv;
  readonly atomicHead = false;
  readonly #bucket: string;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #kv: KV;
  #exists: boolean;

  constructor(bucket: string, js: JetStreamClient, jsm: JetStreamManager, kv: KV, exists: boolean) {
    this.#bucket = bucket;
    this.#js = js;
    this.#jsm = jsm;
    this.#kv = kv;
    this.#exists = exists;
  }

  /** Reads on a bucket that does not exist yet see no documents; writes need it. */
  async #bucketExists(): Promise<boolean> {
    if (!this.#exists) this.#exists = await streamExists(this.#jsm, streamOf(this.#bucket));
    return this.#exists;
  }

  async #get(key: string): Promise<Entry> {
    let entry;
    try {
      entry = await retryTransient(() => this.#kv.get(key), STATE_RETRY_FOR_MS);
    } catch (error) {
      throw natsFailure(`reading ${key}`, error);
    }
    if (!entry) return { state: 'missing' };
    if (entry.operation !== 'PUT') return { state: 'deleted', revision: entry.revision };
    const raw = decodeRecordBytes(entry.value);
    if (isPlainObject(raw)) raw.committedAt = entry.created.toISOString();
    return { state: 'present', raw, revision: entry.revision };
  }

  /**
   * Stores `value` under `key` only if the key never held anything. `exists`: it already did.
   * `unknown` (only when `ambiguousOk`): the publish failed without an answer and may have landed.
   * Tried again while it fails transiently, except that with `ambiguousOk` a time-out is answered
   * `unknown` at once (the caller reads the slot); "no responders" reached no stream, so a retry
   * is always safe. Without `ambiguousOk`, a retry that finds its own first attempt says `exists`.
   */
  async #createOnly(key: string, value: string, ambiguousOk = false): Promise<'created' | 'exists' | 'unknown'> {
    const create = () => this.#js.publish(`$KV.${this.#bucket}.${key}`, value, { expect: { lastSubjectSequence: 0 } });
    try {
      if (ambiguousOk) await retryWhileNoResponders(create);
      else await retryTransient(create, STATE_RETRY_FOR_MS);
      return 'created';
    } catch (error) {
      if (isWrongLastSequence(error)) return 'exists';
      if (ambiguousOk && !(error instanceof JetStreamApiError)) return 'unknown';
      throw natsFailure(`creating ${key}`, error);
    }
  }

  async append(path: DocumentPath, request: AppendRequest): Promise<AppendResult> {
    if (!(await this.#bucketExists())) throw new StateBucketMissingError(this.#bucket);
    // The head is read before the writeId index: any version at or below the head has its index
    // entry (the head only moves past versions whose entries exist), and versions above it are
    // walked below, so a writeId that already wrote is always found.
    const head = await this.#get(keys.head(path));
    const headRecord = head.state === 'present' ? readableRecord(head.raw, path, 'the head') : undefined;
    const earlier = request.writeIdIsNew ? undefined : await this.#versionOfWriteId(path, request);
    if (earlier) {
      await this.#advanceHead(path, earlier, head);
      return { record: earlier, created: false, attempts: 0 };
    }
    if (!headRecord) await this.#createOnly(keys.index(path), JSON.stringify({ path: path.text }));

    // A writer may have stopped after creating a version and before moving the head. A caller that
    // read past the head (reads follow the versions) and writes on top of what it read (ifVersion)
    // must not be refused against the stale head: start from the true latest version then. The
    // versions walked get their index entries, and the head is moved below.
    let latest = headRecord;
    const walked: VersionRecord[] = [];
    while (request.expectedVersion !== undefined && (latest?.envelope.number ?? 0) < request.expectedVersion) {
      const number = (latest?.envelope.number ?? 0) + 1;
      const next = await this.#get(keys.version(path, number));
      if (next.state !== 'present') break;
      latest = readableRecord(next.raw, path, `version ${number}`);
      walked.push(latest);
    }
    let lastHead = head;
    let attempts = 0;
    let result: { record: VersionRecord; created: boolean } | undefined;
    while (!result) {
      if (latest && latest.envelope.writeId === request.writeId) {
        result = { record: latest, created: false };
        break;
      }
      const next = request.build(latest);
      const number = next.envelope.number;
      attempts += 1;
      const outcome = await this.#createOnly(keys.version(path, number), encodeRecord(next), true);
      if (outcome === 'created') {
        result = { record: next, created: true };
        break;
      }
      if (outcome === 'unknown') {
        // The publish may have landed: the slot says whose it is.
        const slot = await this.#get(keys.version(path, number));
        if (slot.state === 'present' && readableRecord(slot.raw, path, `version ${number}`).envelope.hash === next.envelope.hash) {
          result = { record: next, created: true };
          break;
        }
      }
      if (attempts >= request.retry.maxAttempts) throw new StateConflictError(path.text, attempts);
      await waitToRetry(request.retry, attempts);
      // Catch up. The head is kept close to the last version, so jump to it when it is past the
      // slot just lost; otherwise read the version that won the slot.
      const current = await this.#get(keys.head(path));
      lastHead = current;
      const currentHead = current.state === 'present' ? readableRecord(current.raw, path, 'the head') : undefined;
      if (currentHead && currentHead.envelope.number >= number) {
        // Versions were skipped. One may be this writeId's from an earlier, interrupted call;
        // the head moved past it only after its index entry was written, so the index finds it.
        const found = request.writeIdIsNew ? undefined : await this.#versionOfWriteId(path, request);
        if (found) {
          result = { record: found, created: false };
          break;
        }
        latest = currentHead;
        continue;
      }
      const winner = await this.#get(keys.version(path, number));
      if (winner.state === 'deleted') {
        throw new StateIntegrityError(`version ${number} of ${path.text} has been deleted, so no version can follow it`, `nothing was written; run \`agentbus state verify ${path.text}\``, { path: path.text, number });
      }
      if (winner.state === 'present') {
        const record = readableRecord(winner.raw, path, `version ${number}`);
        walked.push(record);
        latest = record;
      }
      // 'missing' right after a failed create: a replica that has not caught up; the next round reads again.
    }
    const indexed = request.writeIdIsNew && result.created ? walked : [result.record, ...walked];
    await Promise.all(indexed.map((record) => this.#indexWriteId(path, record)));
    await this.#advanceHead(path, result.record, lastHead);
    return { ...result, attempts };
  }

  async #versionOfWriteId(path: DocumentPath, request: AppendRequest): Promise<VersionRecord | undefined> {
    const entry = await this.#get(keys.write(path, request.writeKey));
    if (entry.state !== 'present' || !isPlainObject(entry.raw) || typeof entry.raw.number !== 'number') return undefined;
    const number = entry.raw.number;
    const version = await this.#get(keys.version(path, number));
    const record = version.state === 'present' ? readableRecord(version.raw, path, `version ${number}`) : undefined;
    if (!record || record.envelope.writeId !== request.writeId) {
      throw new StateIntegrityError(`the writeId index of ${path.text} points at version ${number}, which is not the version that writeId wrote`, `run \`agentbus state verify ${path.text}\``, { path: path.text, number });
    }
    return record;
  }

  async #indexWriteId(path: DocumentPath, record: VersionRecord): Promise<void> {
    const value = JSON.stringify({ number: record.envelope.number, hash: record.envelope.hash });
    await this.#createOnly(keys.write(path, writeKeyOf(path, record.envelope.writeId)), value);
  }

  /**
   * Moves the head forward to `record`, never back. The compare-and-set only keeps the head fresh;
   * correctness does not depend on it (on 2.9 replicated streams it can let a stale head through,
   * which `latest` and the next write step over).
   */
  async #advanceHead(path: DocumentPath, record: VersionRecord, head: Entry): Promise<void> {
    let current = head;
    for (let attempt = 0; attempt < 5; attempt++) {
      if (current.state === 'present' && headNumberOf(current.raw) >= record.envelope.number) return;
      try {
        if (current.state === 'missing') {
          if ((await this.#createOnly(keys.head(path), encodeRecord(record))) === 'created') return;
        } else {
          // A retry after a time-out that had landed answers wrong-last-sequence: read again below.
          const revision = current.revision;
          await retryTransient(() => this.#kv.update(keys.head(path), encodeRecord(record), revision), STATE_RETRY_FOR_MS);
          return;
        }
      } catch (error) {
        if (!isWrongLastSequence(error)) throw natsFailure(`moving the head of ${path.text}`, error);
      }
      current = await this.#get(keys.head(path));
    }
  }

  async repairHead(path: DocumentPath, record: VersionRecord): Promise<void> {
    try {
      await retryTransient(() => this.#kv.put(keys.head(path), encodeRecord(record)), STATE_RETRY_FOR_MS);
    } catch (error) {
      throw natsFailure(`rewriting the head of ${path.text}`, error);
    }
  }

  async latest(path: DocumentPath): Promise<VersionRecord | undefined> {
    if (!(await this.#bucketExists())) return undefined;
    const head = await this.#get(keys.head(path));
    let latest = head.state === 'present' ? readableRecord(head.raw, path, 'the head') : undefined;
    // The versions are the truth: a writer may have stopped after creating a version and before
    // moving the head, so look past it.
    for (;;) {
      const next = await this.#get(keys.version(path, (latest?.envelope.number ?? 0) + 1));
      if (next.state !== 'present') return latest;
      latest = readableRecord(next.raw, path, `version ${(latest?.envelope.number ?? 0) + 1}`);
    }
  }

  async readHead(path: DocumentPath): Promise<unknown> {
    if (!(await this.#bucketExists())) return undefined;
    const head = await this.#get(keys.head(path));
    return head.state === 'present' ? head.raw : undefined;
  }

  async readVersions(path: DocumentPath, numbers: readonly number[]): Promise<unknown[]> {
    if (!(await this.#bucketExists())) return numbers.map(() => undefined);
    const results: unknown[] = [];
    for (let start = 0; start < numbers.length; start += 64) {
      const chunk = numbers.slice(start, start + 64);
      const entries = await Promise.all(chunk.map((number) => this.#get(keys.version(path, number))));
      results.push(...entries.map((entry) => (entry.state === 'present' ? entry.raw : undefined)));
    }
    return results;
  }

  async *scanVersions(path: DocumentPath): AsyncIterable<StoredSlot> {
    if (!(await this.#bucketExists())) return;
    let entries;
    try {
      // One ordered consumer over `<c>.<id>.v.*`: each stored version arrives exactly once.
      entries = await this.#kv.history({ key: keys.versions(path) });
    } catch (error) {
      throw natsFailure(`reading the versions of ${path.text}`, error);
    }
    const prefixLength = keys.version(path, 0).length - 1;
    for await (const entry of entries) {
      const number = Number(entry.key.slice(prefixLength));
      if (!Number.isSafeInteger(number) || number < 1) continue;
      if (entry.operation !== 'PUT') {
        yield { number, raw: undefined, deleted: true };
        continue;
      }
      const raw = decodeRecordBytes(entry.value);
      if (isPlainObject(raw)) raw.committedAt = entry.created.toISOString();
      yield { number, raw };
    }
  }

  async listDocuments(): Promise<DocumentPath[]> {
    if (!(await this.#bucketExists())) return [];
    const found = new DocumentPathSet();
    try {
      for await (const key of await this.#kv.keys('_index.*.*')) found.add(key.split('.').slice(1).join('/'));
      // Heads too: a document whose index key was lost is still found once it has a head.
      for await (const key of await this.#kv.keys('*.*.head')) if (!key.startsWith('_')) found.add(key.split('.').slice(0, 2).join('/'));
    } catch (error) {
      throw natsFailure('listing documents', error);
    }
    return found.sorted();
  }

  async close(): Promise<void> {
    // The connection belongs to the caller.
  }
}
