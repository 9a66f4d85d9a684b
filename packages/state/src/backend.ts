import { backoff } from '@agentbus/bus';
import type { DocumentPath } from './document-path.ts';
import { parseRecord, type VersionRecord } from './envelope.ts';
import { StateIntegrityError } from './errors.ts';

/** `memory` is the fake of @agentbus/state/testing, for unit tests; no setting selects it. */
export const BackendKinds = { natsKv: 'nats-kv', firestore: 'firestore', memory: 'memory' } as const;
export type BackendKind = (typeof BackendKinds)[keyof typeof BackendKinds];

/** How often a write retries after losing the race for the next version number, and how it waits. */
export interface RetryPolicy {
  maxAttempts: number;
  /** Waits are random in [0, min(maxDelayMs, baseDelayMs · 2^attempt)] ("full jitter"). */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { maxAttempts: 100, baseDelayMs: 25, maxDelayMs: 500 };

/** Waits before the write's next attempt, after `attempt` lost races (bus's backoff, full jitter). */
export function waitToRetry(policy: RetryPolicy, attempt: number): Promise<void> {
  return backoff(attempt + 1, { baseMs: policy.baseDelayMs, maxMs: policy.maxDelayMs, maxDoublings: 20, jitter: 'full' });
}

export interface AppendRequest {
  writeId: string;
  /** writeKeyOf(path, writeId): the key of the backend's writeId index. */
  writeKey: string;
  /**
   * The writeId was made up for this call (the caller gave none), so no earlier call can have
   * used it and no later one will look it up: a backend may skip its writeId index for it.
   */
  writeIdIsNew: boolean;
  /**
   * Builds the next version on top of `latest` (undefined: the document is new). Pure: it may run
   * once per attempt. Throwing aborts the write with nothing stored.
   */
  build(latest: VersionRecord | undefined): VersionRecord;
  retry: RetryPolicy;
  /**
   * The version the caller read and writes on top of (ifVersion). A backend whose head can lag
   * its versions (a writer stopped in between) must give build() the true latest version when its
   * head is behind this one, or build() refuses a write that is on top of the latest.
   */
  expectedVersion?: number | undefined;
}

export interface AppendResult {
  record: VersionRecord;
  /** false: the writeId had already written `record` (a retried write), nothing new was stored. */
  created: boolean;
  attempts: number;
}

/** A stored version as read, not yet trusted: `raw` is parsed by parseRecord. */
export interface StoredSlot {
  /** The number the backend files the record under (key / document id), not the one it claims. */
  number: number;
  raw: unknown;
  /** The backend holds a deletion marker for this number (a version that was removed). */
  deleted?: boolean;
}

/**
 * A place to keep version records. Two implementations (nats-kv, firestore) pass one conformance
 * suite. Contract shared by both:
 * - version records are created with a must-not-exist precondition and never updated or deleted;
 *   that precondition alone serializes concurrent writers (no backend isolation is relied on);
 * - a writeId writes at most one version: `append` returns the earlier version for a repeated one;
 * - the head is a copy of the latest version; `latest` answers from the version records.
 */
export interface StateBackend {
  readonly kind: BackendKind;
  /**
   * true: the head is committed together with its version (Firestore), so a head that is not the
   * last version is damage. false (NATS KV): the head is moved after the version is created, so a
   * head behind the last version is the state a writer that stopped in between leaves; it reads,
   * writes and verifies correctly and the next write moves the head on.
   */
  readonly atomicHead: boolean;
  append(path: DocumentPath, request: AppendRequest): Promise<AppendResult>;
  /** The latest version according to the version records; undefined when the document is new. */
  latest(path: DocumentPath): Promise<VersionRecord | undefined>;
  /** The head record as stored (for verify); undefined when there is none. */
  readHead(path: DocumentPath): Promise<unknown>;
  /** Raw records by number, in the order asked; undefined where there is none. */
  readVersions(path: DocumentPath, numbers: readonly number[]): Promise<unknown[]>;
  /** Every stored version record of a document, each read once, in no particular order. */
  scanVersions(path: DocumentPath): AsyncIterable<StoredSlot>;
  /** Every document that has been written, from the backend's own document index. */
  listDocuments(): Promise<DocumentPath[]>;
  /** Overwrites the head with a copy of `record` (the operator's repair after verify; never part of a write). */
  repairHead(path: DocumentPath, record: VersionRecord): Promise<void>;
  close(): Promise<void>;
}

/** A record the write path must build on; damage there stops the write with a pointer to verify. */
export function readableRecord(raw: unknown, path: DocumentPath, what: string): VersionRecord {
  const parsed = parseRecord(raw);
  if (!parsed.ok) {
    throw new StateIntegrityError(`${what} of ${path.text} is damaged: ${parsed.message}`, `nothing was written; run \`agentbus state verify ${path.text}\` to see the damage`, { path: path.text });
  }
  return parsed.record;
}
