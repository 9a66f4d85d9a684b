import { z } from 'zod';
import { commitSha, gitRef, isoTime, serviceName } from './messages/fields.ts';

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
});
export type ReleaseManifest = z.infer<typeof releaseManifestSchema>;

export function releaseManifestPath(service: string): string {
  return `releases/${service}`;
}
