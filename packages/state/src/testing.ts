import { BackendKinds, type AppendRequest, type AppendResult, type StateBackend, type StoredSlot } from './backend.ts';
import type { DocumentPath } from './document-path.ts';
import { encodeRecord, parseRecord, type VersionRecord } from './envelope.ts';
import { StateIntegrityError } from './errors.ts';
import { StateStore, type StateStoreOptions } from './store.ts';

/**
 * @agentbus/state/testing: versioned state in memory, for unit tests of code that takes a
 * StateStore (a handler's decision). It is the real StateStore (envelopes, hash chain, writeIds,
 * version conflicts) over a backend that keeps the records in a Map of one process: the head is
 * committed with its version (atomicHead), and a writeId writes at most one version.
 */
class MemoryBackend implements StateBackend {
  readonly kind = BackendKinds.memory;
  readonly atomicHead = true;
  /** path → stored records by number (as encoded bytes: a reader never shares an object with the store). */
  readonly #versions = new Map<string, Map<number, string>>();
  readonly #heads = new Map<string, string>();
  /** path → writeKey → version number. */
  readonly #writeIds = new Map<string, Map<string, number>>();
  readonly #documents = new Map<string, DocumentPath>();

  append(path: DocumentPath, request: AppendRequest): Promise<AppendResult> {
    const versions = this.#versions.get(path.text) ?? new Map<number, string>();
    const writeIds = this.#writeIds.get(path.text) ?? new Map<string, number>();
    const earlier = writeIds.get(request.writeKey);
    if (earlier !== undefined) return Promise.resolve({ record: this.#record(path, versions.get(earlier)), created: false, attempts: 0 });
    const head = this.#heads.get(path.text);
    const record = request.build(head === undefined ? undefined : this.#record(path, head));
    const encoded = encodeRecord(record);
    versions.set(record.envelope.number, encoded);
    writeIds.set(request.writeKey, record.envelope.number);
    this.#versions.set(path.text, versions);
    this.#writeIds.set(path.text, writeIds);
    this.#heads.set(path.text, encoded);
    this.#documents.set(path.text, path);
    return Promise.resolve({ record: this.#record(path, encoded), created: true, attempts: 1 });
  }

  latest(path: DocumentPath): Promise<VersionRecord | undefined> {
    const versions = this.#versions.get(path.text);
    if (!versions || versions.size === 0) return Promise.resolve(undefined);
    return Promise.resolve(this.#record(path, versions.get(Math.max(...versions.keys()))));
  }

  readHead(path: DocumentPath): Promise<unknown> {
    const head = this.#heads.get(path.text);
    return Promise.resolve(head === undefined ? undefined : JSON.parse(head));
  }

  readVersions(path: DocumentPath, numbers: readonly number[]): Promise<unknown[]> {
    const versions = this.#versions.get(path.text);
    return Promise.resolve(numbers.map((number) => {
      const stored = versions?.get(number);
      return stored === undefined ? undefined : JSON.parse(stored);
    }));
  }

  async *scanVersions(path: DocumentPath): AsyncIterable<StoredSlot> {
    for (const [number, stored] of this.#versions.get(path.text) ?? []) yield { number, raw: JSON.parse(stored) };
  }

  listDocuments(): Promise<DocumentPath[]> {
    return Promise.resolve([...this.#documents.values()]);
  }

  repairHead(path: DocumentPath, record: VersionRecord): Promise<void> {
    this.#heads.set(path.text, encodeRecord(record));
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  #record(path: DocumentPath, stored: string | undefined): VersionRecord {
    const parsed = parseRecord(stored === undefined ? undefined : JSON.parse(stored));
    if (!parsed.ok) throw new StateIntegrityError(`a record of ${path.text} in memory is damaged: ${parsed.message}`, 'the memory backend stores only what StateStore built: a test changed it', { path: path.text });
    return parsed.record;
  }
}

/** A StateBackend in memory (see above). */
export function memoryStateBackend(): StateBackend {
  return new MemoryBackend();
}

/**
 * A StateStore in memory, writing as `agent` (default 'test'), optionally filled with
 * `documents` (path → data), each written once as version 1 with the reason 'test fixture'.
 */
export async function memoryStateStore(documents: Record<string, unknown> = {}, options: Partial<Omit<StateStoreOptions, 'backend'>> = {}): Promise<StateStore> {
  const store = new StateStore({ agent: 'test', ...options, backend: memoryStateBackend() });
  for (const [path, data] of Object.entries(documents)) await store.put(path, data, { reason: 'test fixture' });
  return store;
}
