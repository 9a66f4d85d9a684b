import { createHash } from 'node:crypto';
import { z } from 'zod';
import { commitSha, gitRef, isoTime, serviceName } from './messages/fields.ts';
import { ReleaseStatuses, ReleaseStepStatuses, RollbackScopes } from './messages/release.ts';

/**
 * Versioned documents more than one service reads. Their history (every version kept by the
 * state store) is the audit trail: each deploy and each rollback of a service is one version.
 */

/** `releases/<service>`: what runs now, and which deployment put it there (seed 001's release manifest). */
export const releaseManifestSchema = z.object({
  service: serviceName,
  /** The deployment this version is about. */
  deploymentId: z.string().min(1),
  correlationId: z.string().min(1),
  status: z.enum(['deployed', 'rolled-back']),
  /** The commit running now. */
  commit: commitSha,
  /** The commit that ran before this deployment. */
  previousCommit: commitSha,
  mergeCommit: commitSha,
  ref: gitRef,
  branch: gitRef,
  requestedBy: z.string(),
  deployedAt: isoTime,
  rolledBackAt: isoTime.optional(),
  /** The revert commit (git-revert) that undid mergeCommit. */
  revertCommit: commitSha.nullable().optional(),
  /** The release the deployment was a step of: it holds the service's lease (deploymentLeaseOwner). */
  releaseId: z.string().min(1).optional(),
});
export type ReleaseManifest = z.infer<typeof releaseManifestSchema>;

export function releaseManifestPath(service: string): string {
  return `releases/${service}`;
}

/**
 * `quarantine/<service>`: the changes agentbus reverted on a service, by the patch id of what each
 * changed (`git patch-id --stable` of its diff since its fork point). Deploying one of them again
 * unchanged is refused (never the same bad change twice), unless the task says `allowReverted`.
 */
export const quarantineSchema = z.object({
  service: serviceName,
  changes: z.array(
    z.object({
      patchId: z.string().regex(/^[0-9a-f]{40}$/, 'a patch id (40 hex digits)'),
      ref: gitRef,
      mergeCommit: commitSha,
      deploymentId: z.string().min(1),
      /** The incident that reverted it (its post-mortem: agentbus postmortem show <incidentId>). */
      incidentId: z.string().min(1),
      revertedAt: isoTime,
      reason: z.string(),
    }),
  ),
});
export type Quarantine = z.infer<typeof quarantineSchema>;

export function quarantinePath(service: string): string {
  return `quarantine/${service}`;
}

/**
 * `release-runs/<releaseId>`: one staged release (seed 001's release manifest across services):
 * which services it promoted, when, at which commits, each step's verdict and guard, how it ended.
 * Written by the release agent at each change; its history is the release's story.
 */
export const releaseRunSchema = z.object({
  releaseId: z.string().min(1),
  status: z.enum(ReleaseStatuses),
  requestedBy: z.string(),
  rollbackScope: z.enum(RollbackScopes),
  alsoCheck: z.array(serviceName),
  startedAt: isoTime,
  endedAt: isoTime.optional(),
  /** Why it stands where it stands (the failing check, the step that stopped it). */
  detail: z.string().optional(),
  steps: z.array(
    z.object({
      n: z.number().int().positive(),
      service: serviceName,
      ref: gitRef,
      guardMs: z.number().int().nonnegative(),
      deploymentId: z.string().min(1),
      status: z.enum(ReleaseStepStatuses),
      mergeCommit: commitSha.optional(),
      previousCommit: commitSha.optional(),
      promotedAt: isoTime.optional(),
      verdict: z.enum(['passed', 'failed', 'inconclusive']).optional(),
      guard: z.enum(['passed', 'failed', 'inconclusive', 'cancelled']).optional(),
      revertCommit: commitSha.nullable().optional(),
      rolledBackAt: isoTime.optional(),
      detail: z.string().optional(),
    }),
  ),
  finalCheck: z
    .object({
      outcome: z.enum(['passed', 'failed', 'inconclusive']),
      checkedAt: isoTime,
      services: z.array(z.object({ service: serviceName, inRelease: z.boolean(), outcome: z.enum(['passed', 'failed', 'inconclusive']), detail: z.string().optional() })),
    })
    .optional(),
});
export type ReleaseRun = z.infer<typeof releaseRunSchema>;

export const RELEASE_RUNS = 'release-runs';

export function releaseRunPath(releaseId: string): string {
  return `${RELEASE_RUNS}/${releaseId}`;
}

/** What the id part of a document path may hold (the state store's rule for Firestore and NATS KV alike). */
const plainDocumentId = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
/** The end of a derived id: `_` and 16 hex digits of SHA-256. A plain id never ends like this. */
const derivedSuffix = /_[0-9a-f]{16}$/;

/**
 * `postmortems/<id>`: the one post-mortem document (and Markdown file, `<id>.md`) of an incident.
 * Distinct incident ids never share one (short of a collision of 64-bit hashes among ids with the
 * same readable prefix):
 *
 * - an incident id that is already a document id (letters, digits, `_` and `-`, starting with a
 *   letter or digit, at most 128 characters: every uuid) is its own id;
 * - any other id (`a.b`, `a/b`, `.hidden`, a 300-character id) becomes a readable prefix (its
 *   characters outside `[A-Za-z0-9_-]` as `_`, without leading `_` or `-`, at most 111 characters;
 *   `incident` when nothing is left) plus `_` and the first 16 hex digits of the SHA-256 of the
 *   whole id's UTF-16 code units (UTF-16LE, so even ids with lone surrogates stay apart):
 *   `a.b` → `a_b_<hash>`.
 *
 * A plain id never ends in `_` and 16 lower-case hex digits (such an id takes the second form),
 * so no plain id equals a derived one.
 */
export function postmortemPath(incidentId: string): string {
  if (plainDocumentId.test(incidentId) && !derivedSuffix.test(incidentId)) return `postmortems/${incidentId}`;
  const hash = createHash('sha256').update(incidentId, 'utf16le').digest('hex').slice(0, 16);
  const readable = Array.from(incidentId, (char) => (/^[A-Za-z0-9_-]$/.test(char) ? char : '_'))
    .join('')
    .replace(/^[_-]+/, '')
    .slice(0, 128 - hash.length - 1);
  return `postmortems/${readable || 'incident'}_${hash}`;
}
