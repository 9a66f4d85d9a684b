import { releaseManifestSchema, type AgentbusRegistry, type DataOf, type ReleaseManifest } from '@agentbus/contracts';
import type { FleetService } from '@agentbus/fleet';
import type { GitRepo } from '@agentbus/git';
import { isStateNotFound, type StateStore } from '@agentbus/state';

type HealthFailed = DataOf<AgentbusRegistry, 'health.failed'>;
type SkipReason = DataOf<AgentbusRegistry, 'rollback.skipped'>['reason'];

export type Attribution =
  | { attributed: true; manifest: ReleaseManifest; failingChecks: string[]; reason: string }
  | { attributed: false; reason: SkipReason; detail: string; escalate: boolean };

/**
 * Decides whether a health failure is this deployment's fault (seed 002, lesson 2: temporal
 * proximity is not enough; a flaky or unrelated failure must not revert a good commit). It is,
 * only when all hold:
 * - the service was healthy just before the deploy (the baseline);
 * - this is the latest deployment of the service (its release manifest says so) and it has not
 *   been rolled back already;
 * - every failing check is one of this service's own checks;
 * - the deployed commit is not itself a revert (a revert is never reverted on its own).
 */
export async function attributeFailure(failure: HealthFailed, service: FleetService, state: StateStore, repo: GitRepo): Promise<Attribution> {
  let manifest: ReleaseManifest;
  try {
    manifest = releaseManifestSchema.parse((await state.get(`releases/${service.name}`)).data);
  } catch (error) {
    if (!isStateNotFound(error)) throw error;
    return { attributed: false, reason: 'unknown-deployment', detail: `no release manifest for ${service.name}: agentbus did not deploy it, so it cannot tell what to roll back`, escalate: true };
  }
  if (manifest.deploymentId !== failure.deploymentId) {
    return {
      attributed: false,
      reason: 'not-latest-deployment',
      detail: `deployment ${failure.deploymentId} is no longer the latest of ${service.name} (now ${manifest.deploymentId}, ${manifest.status} at ${manifest.commit.slice(0, 12)}); the newer one is judged on its own`,
      escalate: true,
    };
  }
  if (manifest.status === 'rolled-back') {
    return { attributed: false, reason: 'already-rolled-back', detail: `deployment ${failure.deploymentId} was already rolled back at ${manifest.rolledBackAt ?? 'an earlier time'}`, escalate: false };
  }
  const baseline = failure.baseline;
  if (!baseline || !baseline.healthy) {
    const before = baseline ? baseline.checks.filter((c) => !c.ok && c.severity === 'fatal').map((c) => `${c.name}: ${c.error ?? 'failed'}`) : [];
    return {
      attributed: false,
      reason: 'baseline-unhealthy',
      detail: baseline
        ? `${service.name} was already unhealthy before this deploy (${baseline.checkedAt}: ${before.join('; ')}); the failure is not this deployment's`
        : `no baseline of ${service.name} from before this deploy, so the failure cannot be attributed to it`,
      escalate: true,
    };
  }
  const failingChecks = failure.checks.filter((c) => !c.ok && c.severity === 'fatal').map((c) => c.name);
  const own = new Set(service.health.checks.map((c) => c.name));
  const foreign = failingChecks.filter((name) => !own.has(name));
  if (failingChecks.length === 0 || foreign.length > 0) {
    return {
      attributed: false,
      reason: 'checks-not-owned',
      detail: failingChecks.length === 0 ? 'health.failed names no failing fatal check' : `failing checks ${foreign.join(', ')} are not checks of ${service.name}`,
      escalate: true,
    };
  }
  const reverts = await repo.revertedCommitOf(manifest.mergeCommit);
  if (reverts) {
    return {
      attributed: false,
      reason: 'revert-of-revert',
      detail: `${manifest.mergeCommit.slice(0, 12)} is itself a revert of ${reverts.slice(0, 12)}; agentbus does not revert a revert on its own`,
      escalate: true,
    };
  }
  const why = failure.checks
    .filter((c) => !c.ok && c.severity === 'fatal')
    .map((c) => `${c.name} ${c.url}: ${c.error ?? 'failed'}`)
    .join('; ');
  return { attributed: true, manifest, failingChecks, reason: `health check failed after deploy of ${manifest.ref}: ${why}` };
}
