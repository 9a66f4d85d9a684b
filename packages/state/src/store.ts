import { randomUUID } from 'node:crypto';
import { defaultRetryPolicy, readableRecord, type RetryPolicy, type StateBackend } from './backend.ts';
import { canonicalJson } from './canonical-json.ts';
import { diffData, type FieldChange } from './diff.ts';
import { parseDocumentPath, writeKeyOf, type DocumentPath } from './document-path.ts';
import { dataHashOf, Operations, parseRecord, sealVersion, type EnvelopeInput, type VersionEnvelope, type VersionRecord } from './envelope.ts';
import { documentNotFound, isStateNotFound, StateDataError, StateInputError, StateIntegrityError, StateVersionConflictError, StateWriteIdReusedError, versionNotFound } from './errors.ts';
import { formatMicros, normalizeData, nowMicros, type JsonObject } from './normalize.ts';
import { Keyring, type SigningOptions } from './signing.ts';
import { checkRecord, IntegrityReasons, verifyDocument, type VerifyFinding, type VerifyReport } from './verify.ts';

/** Canonical size limit of a document's data: a record (data + envelope) must fit a Firestore document (1 MiB) and a NATS message. */
export const MAX_DATA_BYTES = 900 * 1024;
const MAX_TEXT = { agent: 200, taskId: 200, writeId: 200, reason: 2000 } as const;

/** The validated envelope fields of one write (the timestamp is taken per attempt). */
type WriterInput = Omit<EnvelopeInput, 'timestamp'> & { writeIdIsNew: boolean };

export interface StateStoreOptions {
  backend: StateBackend;
  /** The agent recorded when a write names none. */
  agent?: string;
  signing?: SigningOptions;
  retry?: Partial<RetryPolicy>;
  /** Client clock in microseconds since the epoch (tests pin it). */
  clock?: () => bigint;
}

export interface WriteOptions {
  /** Why the document changes: required, kept in the version. */
  reason: string;
  agent?: string;
  taskId?: string;
  /**
   * Idempotency key, per document. Retrying a write whose outcome is unknown with the same writeId
   * returns the version it wrote instead of adding one (and refuses other data under that writeId).
   * Default: a new UUID per call, which makes the call itself not retryable that way.
   */
  writeId?: string;
  /** Write only on top of this version (0: only if the document does not exist yet). */
  ifVersion?: number;
}

/** A version as read, with the result of its own integrity check (null: intact). */
export interface StateVersion extends VersionRecord {
  integrity: VerifyFinding | null;
}

export interface WriteResult {
  path: string;
  version: VersionRecord;
  /** false: this writeId had written `version` before; nothing new was stored. */
  created: boolean;
  attempts: number;
}

export interface HistoryEntry {
  number: number;
  /** null when the record is missing or unreadable (see integrity). */
  envelope: VersionEnvelope | null;
  signed: boolean;
  integrity: VerifyFinding | null;
}

export interface HistoryResult {
  path: string;
  latest: number;
  /** Newest first. */
  entries: HistoryEntry[];
}

export type VersionSelector = number | 'head';

export interface VersionSummary {
  number: number;
  timestamp: string;
  agent: string;
  reason: string;
  hash: string;
}

export interface DiffResult {
  path: string;
  from: VersionSummary;
  to: VersionSummary;
  changes: FieldChange[];
}

export interface RestoreOptions extends Omit<WriteOptions, 'ifVersion'> {
  /** Compute and return the plan (the diff from the head to version k), write nothing. */
  dryRun?: boolean;
}

export interface RestoreResult {
  path: string;
  dryRun: boolean;
  /** The version whose data is restored. */
  target: VersionSummary;
  /** The head the diff was taken from. */
  from: VersionSummary;
  /** From the head to the restored data. */
  changes: FieldChange[];
  /** true when a new version was stored. false: dry run, or the head already had that data. */
  written: boolean;
  /** The new version (written), or the head as it is (not written). */
  version: VersionSummary;
}

export interface VerifyAllResult {
  ok: boolean;
  documents: VerifyReport[];
}

export interface RepairResult {
  path: string;
  repaired: boolean;
  head: number;
  report: VerifyReport;
}

/**
 * Versioned documents over a StateBackend. Every change is a new version; nothing stored is ever
 * rewritten (repair rewrites only the head, a copy). All methods validate their input before
 * touching the backend, so a bad call writes nothing.
 */
export class StateStore {
  readonly backend: StateBackend;
  readonly #agent: string | undefined;
  readonly #keyring: Keyring;
  readonly #retry: RetryPolicy;
  readonly #clock: () => bigint;

  constructor(options: StateStoreOptions) {
    this.backend = options.backend;
    this.#agent = options.agent;
    this.#keyring = new Keyring(options.signing);
    this.#retry = { ...defaultRetryPolicy, ...options.retry };
    this.#clock = options.clock ?? nowMicros;
  }

  /** Writes `data` as the next version of `path`. Throws StateConflictError after the retry budget, with nothing written. */
  async put(path: string, data: unknown, options: WriteOptions): Promise<WriteResult> {
    const doc = parseDocumentPath(path);
    const normalized = checkedData(data);
    const input = this.#input(options, Operations.put, null);
    if (options.ifVersion !== undefined && !(Number.isSafeInteger(options.ifVersion) && options.ifVersion >= 0)) {
      throw new StateInputError(`ifVersion must be an integer ≥ 0, got ${options.ifVersion}`, 'pass the version number you read (0 for a new document)');
    }
    return this.#append(doc, normalized, input, options.ifVersion);
  }

  async #append(path: DocumentPath, data: JsonObject, input: WriterInput, ifVersion: number | undefined): Promise<WriteResult> {
    const result = await this.backend.append(path, {
      writeId: input.writeId,
      writeKey: writeKeyOf(path, input.writeId),
      writeIdIsNew: input.writeIdIsNew,
      retry: this.#retry,
      expectedVersion: ifVersion,
      build: (latest) => {
        const current = latest?.envelope.number ?? 0;
        if (ifVersion !== undefined && current !== ifVersion) throw new StateVersionConflictError(path.text, ifVersion, current);
        const { writeIdIsNew: _new, ...fields } = input;
        const record = sealVersion(path.text, data, { ...fields, timestamp: formatMicros(this.#clock()) }, latest?.envelope);
        record.signature = this.#keyring.sign(input.agent, record.envelope.hash);
        return record;
      },
    });
    // A made-up writeId cannot have written before: a version carrying it was written by this call.
    if (!result.created && !input.writeIdIsNew) {
      const earlier = result.record.envelope;
      if (earlier.dataHash !== dataHashOf(canonicalJson(data)) || earlier.operation !== input.operation || earlier.restoredFrom !== input.restoredFrom) {
        throw new StateWriteIdReusedError(path.text, input.writeId, earlier.number);
      }
    }
    return { path: path.text, version: result.record, created: result.created || input.writeIdIsNew, attempts: result.attempts };
  }

  #input(options: WriteOptions, operation: EnvelopeInput['operation'], restoredFrom: number | null): WriterInput {
    const reason = typeof options.reason === 'string' ? options.reason.trim() : '';
    if (reason === '') {
      throw new StateInputError('the reason is empty', 'say why the document changes, e.g. --reason "raise replicas for the launch"');
    }
    const agent = options.agent ?? this.#agent;
    if (agent === undefined) throw new StateInputError('no agent is named for this write', 'pass agent in the write options (CLI: --agent <name>) or set a default agent on the store');
    return {
      agent: checkedText('agent', agent, MAX_TEXT.agent),
      taskId: options.taskId === undefined ? null : checkedText('taskId', options.taskId, MAX_TEXT.taskId),
      reason: checkedText('reason', reason, MAX_TEXT.reason, true),
      writeId: options.writeId === undefined ? randomUUID() : checkedText('writeId', options.writeId, MAX_TEXT.writeId),
      writeIdIsNew: options.writeId === undefined,
      operation,
      restoredFrom,
    };
  }

  /** The latest version, or version `options.version`. */
  async get(path: string, options: { version?: number } = {}): Promise<StateVersion> {
    const doc = parseDocumentPath(path);
    if (options.version === undefined) {
      const latest = await this.backend.latest(doc);
      if (!latest) throw documentNotFound(doc.text);
      return { ...latest, integrity: checkRecord(latest, doc, latest.envelope.number) };
    }
    const number = checkedVersion(options.version);
    const [record] = await this.#versions(doc, [number]);
    return { ...record!, integrity: checkRecord(record!, doc, number) };
  }

  /**
   * get(), for a read that decides something: a version whose own record fails verification (its
   * data or envelope changed after it was written, or copied from another document) is refused
   * with StateIntegrityError (`state-integrity`, details: path, number, reason) instead of
   * returned. Nothing is ever acted on from tampered data.
   */
  async getVerified(path: string, options: { version?: number } = {}): Promise<StateVersion> {
    const version = await this.get(path, options);
    if (version.integrity) {
      const { number, reason, message } = version.integrity;
      throw new StateIntegrityError(`${version.envelope.path} fails verification: ${message}`, `nothing was done with it; \`agentbus state verify ${version.envelope.path}\` shows the damage, \`agentbus state restore\` writes an intact version back`, { path: version.envelope.path, number, reason });
    }
    return version;
  }

  /** Reads versions that must exist; a missing one is a not-found error naming the range there is. */
  async #versions(path: DocumentPath, numbers: number[]): Promise<VersionRecord[]> {
    const raws = await this.backend.readVersions(path, numbers);
    const missing = numbers.find((_, index) => raws[index] === undefined);
    if (missing !== undefined) {
      const latest = await this.backend.latest(path);
      if (!latest) throw documentNotFound(path.text);
      throw versionNotFound(path.text, missing, latest.envelope.number);
    }
    return raws.map((raw, index) => readableRecord(raw, path, `version ${numbers[index]}`));
  }

  /** Newest first: `limit` versions (default 50) below `before` (default: from the latest). */
  async history(path: string, options: { limit?: number; before?: number } = {}): Promise<HistoryResult> {
    const doc = parseDocumentPath(path);
    const limit = options.limit === undefined ? 50 : checkedVersion(options.limit, 'limit');
    const before = options.before === undefined ? undefined : checkedVersion(options.before, 'before');
    const latest = await this.backend.latest(doc);
    if (!latest) throw documentNotFound(doc.text);
    const top = Math.min(latest.envelope.number, before === undefined ? Infinity : before - 1);
    const numbers: number[] = [];
    for (let number = top; number >= 1 && numbers.length < limit; number--) numbers.push(number);
    const raws = await this.backend.readVersions(doc, numbers);
    const entries = numbers.map((number, index): HistoryEntry => {
      const raw = raws[index];
      if (raw === undefined) return { number, envelope: null, signed: false, integrity: { number, reason: IntegrityReasons.missing, message: `version ${number} is missing` } };
      const parsed = parseRecord(raw);
      if (!parsed.ok) return { number, envelope: null, signed: false, integrity: { number, reason: IntegrityReasons.unreadable, message: parsed.message } };
      return { number, envelope: parsed.record.envelope, signed: parsed.record.signature !== null, integrity: checkRecord(parsed.record, doc, number) };
    });
    return { path: doc.text, latest: latest.envelope.number, entries };
  }

  /** Field-level differences of the data from version `from` to version `to`. */
  async diff(path: string, from: VersionSelector, to: VersionSelector): Promise<DiffResult> {
    const doc = parseDocumentPath(path);
    const [a, b] = await this.#select(doc, [from, to]);
    return { path: doc.text, from: summarize(a!), to: summarize(b!), changes: diffData(a!.data, b!.data) };
  }

  async #select(path: DocumentPath, selectors: VersionSelector[]): Promise<VersionRecord[]> {
    const numbers = selectors.filter((selector): selector is number => selector !== 'head').map((selector) => checkedVersion(selector));
    const latest = selectors.includes('head') ? await this.backend.latest(path) : undefined;
    if (selectors.includes('head') && !latest) throw documentNotFound(path.text);
    const records = numbers.length > 0 ? await this.#versions(path, numbers) : [];
    return selectors.map((selector) => (selector === 'head' ? latest! : records.shift()!));
  }

  /**
   * Writes a new version whose data equals version `version`'s, with a reason that says so; no
   * earlier record changes. Refuses to restore a version that fails its integrity check. When the
   * head already holds that data nothing is written (running the same restore twice adds one version).
   */
  async restore(path: string, version: number, options: RestoreOptions): Promise<RestoreResult> {
    const doc = parseDocumentPath(path);
    const number = checkedVersion(version);
    if (typeof options.reason !== 'string' || options.reason.trim() === '') {
      throw new StateInputError('the reason is empty', 'say why you restore, e.g. --reason "bad rollout of the permission matrix"');
    }
    const input = this.#input({ ...options, reason: `restore to version ${number}: ${options.reason.trim()}` }, Operations.restore, number);
    const target = await this.#restorable(doc, number);
    const current = await this.backend.latest(doc);
    if (!current) throw documentNotFound(doc.text);
    const changes = diffData(current.data, target.data);
    const plan = { path: doc.text, target: summarize(target), from: summarize(current), changes };
    if (options.dryRun || changes.length === 0) {
      return { ...plan, dryRun: options.dryRun ?? false, written: false, version: summarize(current) };
    }
    const result = await this.#append(doc, target.data, input, undefined);
    return { ...plan, dryRun: false, written: true, version: summarize(result.version) };
  }

  /** Version `number`, checked on its own and against the link the next version holds. */
  async #restorable(path: DocumentPath, number: number): Promise<VersionRecord> {
    const [target] = await this.#versions(path, [number]);
    const [nextRaw] = await this.backend.readVersions(path, [number + 1]);
    const next = nextRaw === undefined ? undefined : parseRecord(nextRaw);
    const problem =
      checkRecord(target!, path, number) ??
      (target!.envelope.number !== number ? { message: `the record stored as version ${number} says it is version ${target!.envelope.number}` } : null) ??
      (next?.ok && next.record.envelope.previousHash !== target!.envelope.hash ? { message: `version ${number + 1} does not link to it (previousHash differs)` } : null);
    if (problem) {
      throw new StateIntegrityError(`version ${number} of ${path.text} fails verification, so it is not restored: ${problem.message}`, `run \`agentbus state verify ${path.text}\` and restore an intact version`, { path: path.text, number });
    }
    return target!;
  }

  async verify(path: string): Promise<VerifyReport> {
    return verifyDocument(this.backend, parseDocumentPath(path), this.#keyring);
  }

  /** Verifies every document the backend's index knows, one after the other. */
  async verifyAll(onDocument?: (report: VerifyReport) => void): Promise<VerifyAllResult> {
    const documents: VerifyReport[] = [];
    for (const path of await this.backend.listDocuments()) {
      let report: VerifyReport;
      try {
        report = await verifyDocument(this.backend, path, this.#keyring);
      } catch (error) {
        if (!isStateNotFound(error)) throw error;
        // Indexed but nothing stored. On nats-kv the index key is written before version 1, so a
        // writer that stopped in between leaves exactly this: a document that was never written.
        // Where the index is committed with version 1 (Firestore), the history was deleted.
        if (!this.backend.atomicHead) continue;
        report = emptyReport(path.text, { number: 1, reason: IntegrityReasons.missing, message: 'the document is indexed but its head and every version are gone' }, this.#keyring);
      }
      onDocument?.(report);
      documents.push(report);
    }
    return { ok: documents.every((report) => report.ok), documents };
  }

  async listDocuments(): Promise<string[]> {
    return (await this.backend.listDocuments()).map((path) => path.text);
  }

  /**
   * Rewrites the head as a copy of the last version when the head is the only damage (or, on
   * nats-kv, lags behind). Refuses when a version record is damaged: history is never rewritten.
   */
  async repair(path: string): Promise<RepairResult> {
    const doc = parseDocumentPath(path);
    const report = await verifyDocument(this.backend, doc, this.#keyring);
    const headReasons = new Set<string>([IntegrityReasons.headMismatch, IntegrityReasons.headMissing]);
    const historyProblem = report.problems.find((problem) => !headReasons.has(problem.reason));
    if (historyProblem) {
      throw new StateIntegrityError(`the history of ${doc.text} is damaged at version ${historyProblem.number} (${historyProblem.reason}); repair only rewrites the head`, 'restore an intact version or recover the records from a backup; `agentbus state verify` lists the damage', {
        path: doc.text,
        number: historyProblem.number,
      });
    }
    const needed = report.problems.length > 0 || report.warnings.some((warning) => warning.reason === IntegrityReasons.headBehind);
    if (!needed) return { path: doc.text, repaired: false, head: report.versions, report };
    const [last] = await this.#versions(doc, [report.versions]);
    await this.backend.repairHead(doc, last!);
    return { path: doc.text, repaired: true, head: report.versions, report: await verifyDocument(this.backend, doc, this.#keyring) };
  }

  async close(): Promise<void> {
    await this.backend.close();
  }
}

function checkedData(data: unknown): JsonObject {
  const normalized = normalizeData(data);
  const size = Buffer.byteLength(canonicalJson(normalized), 'utf8');
  if (size > MAX_DATA_BYTES) {
    throw new StateDataError('data', `is ${size} bytes as canonical JSON; the limit is ${MAX_DATA_BYTES}`, 'split the document, or keep large blobs elsewhere and store a reference');
  }
  return normalized;
}

function checkedText(name: string, value: unknown, max: number, multiline = false): string {
  if (typeof value !== 'string' || value.trim() === '') throw new StateInputError(`${name} is empty`, `give a non-empty ${name}`);
  if (value.length > max) throw new StateInputError(`${name} is ${value.length} characters; the limit is ${max}`, `shorten the ${name}`);
  // eslint-disable-next-line no-control-regex
  const control = multiline ? /[\u0000-\u0008\u000b-\u001f\u007f]/ : /[\u0000-\u001f\u007f]/;
  if (control.test(value)) throw new StateInputError(`${name} contains control characters`, `remove them from the ${name}`);
  return value;
}

function checkedVersion(value: unknown, name = 'version'): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new StateInputError(`${name} must be an integer ≥ 1, got ${JSON.stringify(value)}`, name === 'version' ? 'versions are numbered from 1; see `agentbus state history <path>`' : `pass a positive ${name}`);
  }
  return value;
}

function emptyReport(path: string, problem: VerifyFinding, keyring: Keyring): VerifyReport {
  return {
    path,
    ok: false,
    versions: 0,
    head: null,
    firstBad: problem,
    problems: [problem],
    warnings: [],
    signatures: { checked: keyring.checksSignatures, valid: 0, unsigned: 0, invalid: 0, unverifiable: 0 },
    versionsRead: 0,
  };
}

function summarize(record: VersionRecord): VersionSummary {
  const { number, timestamp, agent, reason, hash } = record.envelope;
  return { number, timestamp, agent, reason, hash };
}
