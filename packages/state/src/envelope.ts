import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';
import { isPlainObject, normalizeData, normalizeJson, type JsonObject } from './normalize.ts';

/** Format (hash scheme) of the envelopes this code writes. A verifier meeting another one says so. */
export const ENVELOPE_FORMAT = 1;
/** Domain-separation prefixes: a version hash can never be mistaken for a data hash or a signature. */
const VERSION_HASH_DOMAIN = 'agentbus-state/version/v1\n';
const DATA_HASH_DOMAIN = 'agentbus-state/data/v1\n';

export const Operations = { put: 'put', restore: 'restore' } as const;
export type Operation = (typeof Operations)[keyof typeof Operations];

/**
 * What every version carries. Everything but `hash` is hashed:
 * `hash = sha256(domain ‖ JCS({data, envelope: envelope-minus-hash, path}))`, so the data, the
 * document path (no chain can be transplanted to another document), the number, the link to the
 * previous version and the who/why/when metadata are all covered.
 */
export interface VersionEnvelope {
  format: number;
  /** `<collection>/<id>`: binds the version to its document. */
  path: string;
  /** 1, 2, 3 … gapless. */
  number: number;
  agent: string;
  taskId: string | null;
  reason: string;
  /** Client time, UTC, truncated to microseconds (`2026-11-03T02:14:03.123456Z`). */
  timestamp: string;
  /** Idempotency key: a retried write with the same writeId returns this version instead of adding one. */
  writeId: string;
  operation: Operation;
  /** For `restore`: the version whose data this one copies. */
  restoredFrom: number | null;
  /** `hash` of version number − 1; null for version 1. */
  previousHash: string | null;
  /** sha256 of the canonical data alone: tells "data changed" from "envelope changed". */
  dataHash: string;
  hash: string;
}

/** ed25519 signature of the version hash by the writing agent's key (optional, unhashed). */
export interface VersionSignature {
  algorithm: 'ed25519';
  /** First 16 hex digits of sha256 over the public key (SPKI DER). */
  keyId: string;
  /** base64 */
  value: string;
}

/** One version as stored: the head document is a copy of the latest one. */
export interface VersionRecord {
  envelope: VersionEnvelope;
  data: JsonObject;
  signature: VersionSignature | null;
  /** Server time of the commit when the backend has one (unhashed, informational). */
  committedAt?: string;
}

/** The envelope fields a writer chooses; number, links and hashes are derived. */
export type EnvelopeInput = Pick<VersionEnvelope, 'agent' | 'taskId' | 'reason' | 'timestamp' | 'writeId' | 'operation' | 'restoredFrom'>;

export type UnsealedEnvelope = Omit<VersionEnvelope, 'hash'>;

function sha256(text: string): string {
  return `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`;
}

export function dataHashOf(canonicalData: string): string {
  return sha256(DATA_HASH_DOMAIN + canonicalData);
}

export function versionHashOf(path: string, canonicalData: string, envelope: UnsealedEnvelope): string {
  // JCS orders the members data < envelope < path; the data is serialized once and reused.
  return sha256(`${VERSION_HASH_DOMAIN}{"data":${canonicalData},"envelope":${canonicalJson(envelope)},"path":${canonicalJson(path)}}`);
}

/** Builds version `previous.number + 1` (or 1) of `path` with the given (normalized) data. */
export function sealVersion(path: string, data: JsonObject, input: EnvelopeInput, previous: VersionEnvelope | undefined): VersionRecord {
  const canonicalData = canonicalJson(data);
  const unsealed: UnsealedEnvelope = {
    format: ENVELOPE_FORMAT,
    path,
    number: (previous?.number ?? 0) + 1,
    agent: input.agent,
    taskId: input.taskId,
    reason: input.reason,
    timestamp: input.timestamp,
    writeId: input.writeId,
    operation: input.operation,
    restoredFrom: input.restoredFrom,
    previousHash: previous?.hash ?? null,
    dataHash: dataHashOf(canonicalData),
  };
  return { envelope: { ...unsealed, hash: versionHashOf(path, canonicalData, unsealed) }, data, signature: null };
}

/** Deterministic bytes of a record for key-value stores: canonical JSON of envelope, data and signature. */
export function encodeRecord(record: VersionRecord): string {
  return canonicalJson({ envelope: record.envelope, data: record.data, signature: record.signature });
}

/** The hash fields of `envelope` recomputed from the stored data; unequal to the stored ones means tampering. */
export function recomputeHashes(record: VersionRecord): { dataHash: string; hash: string } {
  const canonicalData = canonicalJson(record.data);
  const { hash: _stored, ...unsealed } = record.envelope;
  return { dataHash: dataHashOf(canonicalData), hash: versionHashOf(record.envelope.path, canonicalData, unsealed) };
}

export type ParsedRecord = { ok: true; record: VersionRecord } | { ok: false; reason: 'unreadable' | 'unsupported-format'; message: string };

const stringFields = ['path', 'agent', 'reason', 'timestamp', 'writeId', 'dataHash', 'hash'] as const;
const nullableStringFields = ['taskId', 'previousHash'] as const;

/**
 * Reads a stored record (a JSON value, or a Firestore document's fields) without trusting it:
 * anything that is not a well-formed envelope of a known format is reported, not thrown.
 */
export function parseRecord(raw: unknown): ParsedRecord {
  const bad = (message: string): ParsedRecord => ({ ok: false, reason: 'unreadable', message });
  if (!isPlainObject(raw)) return bad('the record is not an object');
  let envelope: Record<string, unknown>;
  try {
    const normalized = normalizeJson(raw.envelope, 'envelope');
    if (!isPlainObject(normalized)) return bad('the record has no envelope object');
    envelope = normalized;
  } catch (error) {
    return bad(`the envelope is not JSON: ${(error as Error).message}`);
  }
  if (envelope.format !== ENVELOPE_FORMAT) {
    return { ok: false, reason: 'unsupported-format', message: `envelope format ${JSON.stringify(envelope.format)} is not one this version of agentbus reads (it reads ${ENVELOPE_FORMAT})` };
  }
  for (const field of stringFields) {
    if (typeof envelope[field] !== 'string') return bad(`envelope.${field} is missing or not a string`);
  }
  for (const field of nullableStringFields) {
    if (envelope[field] !== null && typeof envelope[field] !== 'string') return bad(`envelope.${field} is not a string or null`);
  }
  if (!Number.isSafeInteger(envelope.number) || (envelope.number as number) < 1) return bad('envelope.number is not a positive integer');
  if (envelope.operation !== Operations.put && envelope.operation !== Operations.restore) return bad(`envelope.operation ${JSON.stringify(envelope.operation)} is unknown`);
  if (envelope.restoredFrom !== null && !Number.isSafeInteger(envelope.restoredFrom)) return bad('envelope.restoredFrom is not an integer or null');
  let data: JsonObject;
  try {
    data = normalizeData(raw.data);
  } catch (error) {
    return bad(`the data cannot be read back as versioned data: ${(error as Error).message}`);
  }
  const signature = parseSignature(raw.signature);
  if (signature === undefined) return bad('the signature field is malformed');
  const record: VersionRecord = { envelope: envelope as unknown as VersionEnvelope, data, signature };
  if (typeof raw.committedAt === 'string') record.committedAt = raw.committedAt;
  return { ok: true, record };
}

function parseSignature(raw: unknown): VersionSignature | null | undefined {
  if (raw === null || raw === undefined) return null;
  if (!isPlainObject(raw)) return undefined;
  const { algorithm, keyId, value } = raw;
  if (algorithm !== 'ed25519' || typeof keyId !== 'string' || typeof value !== 'string') return undefined;
  return { algorithm, keyId, value };
}

/** The JSON value of a key-value record; undefined when the bytes are not JSON (parseRecord then reports it). */
export function decodeRecordBytes(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return undefined;
  }
}
