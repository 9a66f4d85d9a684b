// What the rollback's decision tests share: the commits of one deployment of `api`, and the
// release manifest that records it as deployed.
import type { ReleaseManifest } from '@agentbus/contracts';

export const MERGE = '1'.repeat(40);
export const PREVIOUS = '2'.repeat(40);
export const DEPLOYED_AT = '2026-12-01T10:00:00.000Z';

/** The release manifest of deployment dep-1 of `api`: MERGE (of feature/x) on main, deployed. */
export const deployedManifest: ReleaseManifest = {
  service: 'api',
  deploymentId: 'dep-1',
  correlationId: 'corr-1',
  status: 'deployed',
  commit: MERGE,
  previousCommit: PREVIOUS,
  mergeCommit: MERGE,
  ref: 'feature/x',
  branch: 'main',
  requestedBy: 'coder',
  deployedAt: DEPLOYED_AT,
};
