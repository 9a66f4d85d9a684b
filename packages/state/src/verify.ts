import { escalation, type Escalation } from '@agentbus/contracts';
import type { StateBackend } from './backend.ts';
import type { DocumentPath } from './document-path.ts';
import { parseRecord, recomputeHashes, type VersionRecord } from './envelope.ts';
import { documentNotFound, type StateIntegrityError } from './errors.ts';
import { SignatureStatus, type Keyring } from './signing.ts';

/** Why a version (or the head) fails verification. Stable codes for scripts. */
export const IntegrityReasons = {
  /** The data no longer matches the data hash recorded in the envelope. */
  dataChanged: 'data-changed',
  /** The data matches, but an envelope field (agent, reason, time, links …) was changed. */
  envelopeChanged: 'envelope-changed',
  /** A version number below the last one has no record. */
  missing: 'missing',
  /** Two versions traded places. */
  swapped: 'swapped',
  /** A record is filed under another number than the one it carries. */
  misplaced: 'misplaced',
  /** The record belongs to another document: a chain copied from elsewhere. */
  copied: 'copied',
  /** previousHash does not match the version before: history re-linked or replaced. */
  linkBroken: 'link-broken',
  /** The head is not a faithful copy of the last version. */
  headMismatch: 'head-mismatch',
  /** The document has versions but no head (a backend whose head is written with its version). */
  headMissing: 'head-missing',
  /** A record that is not a well-formed envelope. */
  unreadable: 'unreadable',
  /** An envelope of a format this code does not read: not proof of tampering. */
  unsupportedFormat: 'unsupported-format',
  /** No signature where one is required. */
  unsigned: 'unsigned',
  /** A signature that does not verify, or by a key that is not the agent's. */
  badSignature: 'bad-signature',
  /** Signed, but there is no public key to check it with (a problem only when signatures are required). */
  unverifiableSignature: 'unverifiable-signature',
  /** nats-kv only, not a problem: a writer stopped between creating a version and moving the head. */
  headBehind: 'head-behind',
} as const;
export type IntegrityReason = (typeof IntegrityReasons)[keyof typeof IntegrityReasons];

export interface VerifyFinding {
  /** The version concerned (for head findings: the version the head should equal). */
  number: number;
  reason: IntegrityReason;
  message: string;
}

export interface SignatureSummary {
  /** false when no public keys are configured and signatures are not required. */
  checked: boolean;
  valid: number;
  unsigned: number;
  invalid: number;
  unverifiable: number;
}

export interface VerifyReport {
  path: string;
  /** true only when every version and the head check out. */
  ok: boolean;
  /** The highest version number stored. */
  versions: number;
  /** The version number the head holds, null when there is no (readable) head. */
  head: number | null;
  /** The lowest-numbered problem: where the damage starts. */
  firstBad: VerifyFinding | null;
  /** At most one problem per version, ordered by number. */
  problems: VerifyFinding[];
  /** Findings that do not fail verification (head behind, unsigned versions when allowed). */
  warnings: VerifyFinding[];
  signatures: SignatureSummary;
  /** Version records read (each once). */
  versionsRead: number;
}

/** What is kept per stored version while streaming: small, so long histories verify in bounded memory. */
interface SlotSummary {
  claimed: number | null;
  hash: string | null;
  previousHash: string | null;
  signature: string | null;
  /** Set when the record itself is damaged; links are not checked against damaged neighbours. */
  problem: VerifyFinding | null;
  deleted: boolean;
}

/**
 * Verifies one document: every version record is read once (scanVersions) and checked on its own
 * (path binding, data hash, envelope hash, number, signature), then the chain (gaps, swaps,
 * previousHash links) and the head are checked.
 */
export async function verifyDocument(backend: StateBackend, path: DocumentPath, keyring: Keyring): Promise<VerifyReport> {
  const headRaw = await backend.readHead(path);
  const headParsed = headRaw === undefined ? undefined : parseRecord(headRaw);
  const headRecord = headParsed?.ok ? headParsed.record : undefined;
  const signatures: SignatureSummary = { checked: keyring.checksSignatures, valid: 0, unsigned: 0, invalid: 0, unverifiable: 0 };
  const warnings: VerifyFinding[] = [];
  const slots = new Map<number, SlotSummary>();
  let versionsRead = 0;

  for await (const slot of backend.scanVersions(path)) {
    versionsRead += 1;
    if (slot.deleted) {
      slots.set(slot.number, { claimed: null, hash: null, previousHash: null, signature: null, problem: null, deleted: true });
      continue;
    }
    const parsed = parseRecord(slot.raw);
    if (!parsed.ok) {
      const reason = parsed.reason === 'unsupported-format' ? IntegrityReasons.unsupportedFormat : IntegrityReasons.unreadable;
      slots.set(slot.number, { claimed: null, hash: null, previousHash: null, signature: null, deleted: false, problem: { number: slot.number, reason, message: `version ${slot.number}: ${parsed.message}` } });
      continue;
    }
    const { record } = parsed;
    let problem = checkRecord(record, path, slot.number);
    if (!problem) {
      const check = keyring.check(record.envelope, record.signature);
      if (check.status === SignatureStatus.valid) signatures.valid += 1;
      else if (check.status === SignatureStatus.none) signatures.unsigned += 1;
      else if (check.status === SignatureStatus.unsigned) {
        signatures.unsigned += 1;
        problem = { number: slot.number, reason: IntegrityReasons.unsigned, message: `version ${slot.number}: ${check.message}` };
      } else if (check.status === SignatureStatus.invalid) {
        signatures.invalid += 1;
        problem = { number: slot.number, reason: IntegrityReasons.badSignature, message: `version ${slot.number}: ${check.message}` };
      } else {
        signatures.unverifiable += 1;
        const finding = { number: slot.number, reason: IntegrityReasons.unverifiableSignature, message: `version ${slot.number}: ${check.message}` };
        if (keyring.requireSignatures) problem = finding;
        else warnings.push(finding);
      }
    }
    slots.set(slot.number, {
      claimed: record.envelope.number,
      hash: record.envelope.hash,
      previousHash: record.envelope.previousHash,
      signature: record.signature?.value ?? null,
      problem,
      deleted: false,
    });
  }

  const last = Math.max(0, ...slots.keys());
  if (last === 0 && headRaw === undefined) throw documentNotFound(path.text);
  const problems: VerifyFinding[] = [];

  for (let number = 1; number <= last; number++) {
    const slot = slots.get(number);
    if (!slot || slot.deleted) {
      problems.push({ number, reason: IntegrityReasons.missing, message: `version ${number} is ${slot?.deleted ? 'deleted' : 'missing'} (the history goes up to ${last})` });
      continue;
    }
    if (slot.problem) {
      problems.push(slot.problem);
      continue;
    }
    if (slot.claimed !== number) {
      const partner = slots.get(slot.claimed!);
      problems.push(
        partner?.claimed === number
          ? { number, reason: IntegrityReasons.swapped, message: `versions ${number} and ${slot.claimed} are swapped: the record stored as ${number} is version ${slot.claimed}` }
          : { number, reason: IntegrityReasons.misplaced, message: `the record stored as version ${number} says it is version ${slot.claimed}` },
      );
      continue;
    }
    const previous = slots.get(number - 1);
    if (number === 1 && slot.previousHash !== null) {
      problems.push({ number, reason: IntegrityReasons.linkBroken, message: `version 1 should start the chain but links to ${slot.previousHash}` });
    } else if (number > 1 && previous && !previous.deleted && !previous.problem && previous.claimed === number - 1 && slot.previousHash !== previous.hash) {
      problems.push({ number, reason: IntegrityReasons.linkBroken, message: `version ${number}'s previousHash ${slot.previousHash} is not the hash of version ${number - 1} (${previous.hash}): the history was re-linked or version ${number - 1} replaced` });
    }
  }

  const headFinding = checkHead(backend, path, headRaw, headParsed, headRecord, slots, last);
  if (headFinding?.reason === IntegrityReasons.headBehind) warnings.push(headFinding);
  else if (headFinding) problems.push(headFinding);

  problems.sort((a, b) => a.number - b.number);
  return {
    path: path.text,
    ok: problems.length === 0,
    versions: last,
    head: headRecord?.envelope.number ?? null,
    firstBad: problems[0] ?? null,
    problems,
    warnings,
    signatures,
    versionsRead,
  };
}

/** The checks one record passes on its own: it belongs here, its hashes match, it is filed under its number. */
export function checkRecord(record: VersionRecord, path: DocumentPath, number: number): VerifyFinding | null {
  if (record.envelope.path !== path.text) {
    return { number, reason: IntegrityReasons.copied, message: `version ${number} belongs to ${record.envelope.path}, not ${path.text}: copied from another document` };
  }
  const recomputed = recomputeHashes(record);
  if (recomputed.dataHash !== record.envelope.dataHash) {
    return { number, reason: IntegrityReasons.dataChanged, message: `version ${number}'s data was changed after it was written (its data hash is ${recomputed.dataHash}, the envelope records ${record.envelope.dataHash})` };
  }
  if (recomputed.hash !== record.envelope.hash) {
    return { number, reason: IntegrityReasons.envelopeChanged, message: `version ${number}'s envelope (agent, reason, time, links …) was changed after it was written (it hashes to ${recomputed.hash}, it records ${record.envelope.hash})` };
  }
  return null;
}

function checkHead(
  backend: StateBackend,
  path: DocumentPath,
  headRaw: unknown,
  headParsed: ReturnType<typeof parseRecord> | undefined,
  headRecord: VersionRecord | undefined,
  slots: Map<number, SlotSummary>,
  last: number,
): VerifyFinding | null {
  if (headRaw === undefined) {
    return backend.atomicHead
      ? { number: last, reason: IntegrityReasons.headMissing, message: `the head document is missing although versions 1 to ${last} exist` }
      : { number: last, reason: IntegrityReasons.headBehind, message: `there is no head yet although version ${last} exists (a writer stopped before moving it); reads use the versions, and the next write moves the head` };
  }
  if (!headParsed?.ok || !headRecord) {
    return { number: last, reason: IntegrityReasons.headMismatch, message: `the head is damaged: ${headParsed && !headParsed.ok ? headParsed.message : 'unreadable'}` };
  }
  const own = checkRecord(headRecord, path, headRecord.envelope.number);
  if (own) return { number: last, reason: IntegrityReasons.headMismatch, message: `the head is not a faithful copy of a version: ${own.message.replace(/^version \d+/, 'its')}` };
  const head = headRecord.envelope.number;
  if (head > last) {
    return { number: last + 1, reason: IntegrityReasons.missing, message: `the head is version ${head} but the history ends at ${last}: version${head > last + 1 ? `s ${last + 1} to ${head} are` : ` ${head} is`} missing` };
  }
  const slot = slots.get(head);
  if (slot && !slot.deleted && !slot.problem && (slot.hash !== headRecord.envelope.hash || slot.signature !== (headRecord.signature?.value ?? null))) {
    return { number: head, reason: IntegrityReasons.headMismatch, message: `the head claims to be version ${head} but differs from the stored version ${head}` };
  }
  if (head < last) {
    return backend.atomicHead
      ? { number: last, reason: IntegrityReasons.headMismatch, message: `the head is version ${head} but the last version is ${last}: the head was replaced by an older version` }
      : { number: last, reason: IntegrityReasons.headBehind, message: `the head is version ${head}, behind the last version ${last} (a writer stopped before moving it); reads use the versions, and the next write moves the head` };
  }
  return null;
}

/**
 * A broken hash chain is a data-integrity question no agent may settle alone (seed 002): the
 * chain-break escalation of a damaged document, one per document and first bad version (its
 * dedup key), however often it is found — by `agentbus state verify` or the periodic sweep.
 */
export function chainBreakEscalation(report: VerifyReport): Escalation {
  const first = report.firstBad!;
  return escalation({
    kind: 'chain-break',
    severity: 'critical',
    summary: `hash chain of ${report.path} is broken at version ${first.number} (${first.reason}): ${first.message}`,
    details: { path: report.path, firstBad: first, problems: report.problems.length, versions: report.versions },
    about: [report.path, first.number],
  });
}

/** What a read refused (StateStore.getVerified): the document, its version and why. */
export interface RefusedVersion {
  path: string;
  number: number;
  reason: string;
  message: string;
}

/** The version a StateIntegrityError from getVerified refused. */
export function refusedVersionOf(error: StateIntegrityError): RefusedVersion {
  const { path, number, reason } = error.details as { path: string; number: number; reason: string };
  return { path, number, reason, message: error.message };
}

/**
 * The chain-break escalation of a decision skipped because the version it read fails
 * verification: the same dedup key as chainBreakEscalation (document and version), so a sweep or
 * `state verify` finding the same damage updates the same page.
 */
export function refusedReadEscalation(refused: RefusedVersion, what: { service: string; summary: string; details?: Record<string, unknown> }): Escalation {
  return escalation({
    kind: 'chain-break',
    severity: 'critical',
    service: what.service,
    summary: what.summary,
    details: { path: refused.path, firstBad: { number: refused.number, reason: refused.reason }, ...what.details },
    about: [refused.path, refused.number],
  });
}
