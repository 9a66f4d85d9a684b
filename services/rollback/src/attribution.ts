import { releaseManifestSchema, safeText, shortSha, type AgentbusRegistry, type DataOf, type ReleaseManifest } from '@agentbus/contracts';
import type { FleetService } from '@agentbus/fleet';
import type { GitRepo } from '@agentbus/git';
import { isStateIntegrityError, isStateNotFound, refusedVersionOf, type RefusedVersion, type StateStore } from '@agentbus/state';

/** A failed judgment: health.failed after a deploy, or followup.failed hours later. */
type JudgedFailure = Pick<DataOf<AgentbusRegistry, 'health.failed'>, 'deploymentId' | 'baseline' | 'checks' | 'metrics'>;
type DeployFailed = DataOf<AgentbusRegistry, 'deploy.failed'>;
type SkipReason = DataOf<AgentbusRegistry, 'rollback.skipped'>['reason'];

/** `reason` and `detail` quote outside text (check errors, command output): built with safeText, bounded. */
export type Attribution =
  /** `quarantine: false`: the change is rolled back though nothing showed it bad (a release undone as a whole): it is not quarantined. */
  | { attributed: true; manifest: ReleaseManifest; failingChecks: string[]; reason: string; quarantine?: false }
  | { attributed: false; reason: SkipReason; detail: string; escalate: boolean; chainBreak?: RefusedVersion };

/**
 * The service's release manifest, read for a decision: undefined when there is none; a version
 * that fails verification is a decision not to act (`tampered-state`), never data to act on.
 */
async function manifestFor(state: StateStore, service: string): Promise<ReleaseManifest | undefined | Extract<Attribution, { attributed: false }>> {
  try {
    return releaseManifestSchema.parse((await state.getVerified(`releases/${service}`)).data);
  } catch (error) {
    if (isStateNotFound(error)) return undefined;
    if (isStateIntegrityError(error)) {
      return { attributed: false, reason: 'tampered-state', detail: safeText(`${error.message}; agentbus decides nothing on it`, { max: 2_000 }), escalate: true, chainBreak: refusedVersionOf(error) };
    }
    throw error;
  }
}

const noManifest = (service: string): Extract<Attribution, { attributed: false }> => ({ attributed: false, reason: 'unknown-deployment', detail: `no release manifest for ${service}: agentbus did not deploy it, so it cannot tell what to roll back`, escalate: true });

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
export async function attributeFailure(
  failure: JudgedFailure,
  service: FleetService,
  state: StateStore,
  repo: Pick<GitRepo, 'revertedCommitOf'>,
  /** Who found it, when not the verdict after the deploy: "the +4 h follow-up". */
  foundBy?: string,
): Promise<Attribution> {
  const read = await manifestFor(state, service.name);
  if (!read) return noManifest(service.name);
  if ('attributed' in read) return read;
  const manifest = read;
  if (manifest.deploymentId !== failure.deploymentId) {
    return {
      attributed: false,
      reason: 'not-latest-deployment',
      detail: `deployment ${failure.deploymentId} is no longer the latest of ${service.name} (now ${manifest.deploymentId}, ${manifest.status} at ${shortSha(manifest.commit)}); the newer one is judged on its own`,
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
        ? safeText(`${service.name} was already unhealthy before this deploy (${baseline.checkedAt}: ${before.join('; ')}); the failure is not this deployment's`, { max: 2_000 })
        : `no baseline of ${service.name} from before this deploy, so the failure cannot be attributed to it`,
      escalate: true,
    };
  }
  const failingMetrics = failure.metrics.filter((m) => m.outcome === 'failed' && m.severity === 'fatal');
  const failingChecks = [...failure.checks.filter((c) => !c.ok && c.severity === 'fatal').map((c) => c.name), ...failingMetrics.map((m) => m.name)];
  const own = new Set([...service.health.checks.map((c) => c.name), ...service.health.metrics.map((m) => m.name)]);
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
      detail: `${shortSha(manifest.mergeCommit)} is itself a revert of ${shortSha(reverts)}; agentbus does not revert a revert on its own`,
      escalate: true,
    };
  }
  const why = [
    ...failure.checks.filter((c) => !c.ok && c.severity === 'fatal').map((c) => `${c.name} ${c.url}: ${c.error ?? 'failed'}`),
    ...failingMetrics.map((m) => m.reason ?? `${m.name}: failed`), // a reason names its check
  ].join('; ');
  const what = failingMetrics.length === failingChecks.length ? 'metric check' : 'health check';
  const found = foundBy ? ` (found by ${foundBy})` : '';
  return { attributed: true, manifest, failingChecks, reason: safeText(`${what} failed after deploy of ${manifest.ref}${found}: ${why}`, { max: 2_000 }) };
}

/**
 * A rollback asked for by name (rollback.rollback: a release rolled back as a whole, a final check
 * that named the service, an abort with rollback), of a deployment no check of its own failed:
 * done only while it is the latest deployment of its service, not rolled back already, and not
 * itself a revert.
 */
export async function attributeRequest(request: { deploymentId: string; reason: string; quarantine: boolean }, service: FleetService, state: StateStore, repo: Pick<GitRepo, 'revertedCommitOf'>): Promise<Attribution> {
  const manifest = await manifestFor(state, service.name);
  if (!manifest) return noManifest(service.name);
  if ('attributed' in manifest) return manifest;
  if (manifest.deploymentId !== request.deploymentId) {
    return { attributed: false, reason: 'not-latest-deployment', detail: `deployment ${request.deploymentId} is no longer the latest of ${service.name} (now ${manifest.deploymentId}); rolling it back would undo newer work`, escalate: true };
  }
  if (manifest.status === 'rolled-back') return { attributed: false, reason: 'already-rolled-back', detail: `deployment ${request.deploymentId} was already rolled back at ${manifest.rolledBackAt ?? 'an earlier time'}`, escalate: false };
  const reverts = await repo.revertedCommitOf(manifest.mergeCommit);
  if (reverts) return { attributed: false, reason: 'revert-of-revert', detail: `${shortSha(manifest.mergeCommit)} is itself a revert of ${shortSha(reverts)}; agentbus does not revert a revert on its own`, escalate: true };
  return { attributed: true, manifest, failingChecks: [], reason: safeText(request.reason, { max: 2_000 }), ...(request.quarantine ? {} : { quarantine: false as const }) };
}

/**
 * A deploy command that failed after its merge reached the remote leaves the service on an
 * unknown version with the merge on the branch: roll the merge back, unless the branch has moved
 * on since (a newer deployment), the merge was already reverted, or it is itself a revert.
 * Returns null for failures that left nothing to roll back (before the push).
 */
export async function attributeDeployFailure(failure: DeployFailed, correlationId: string, at: string, repo: Pick<GitRepo, 'remoteBranchSha' | 'findRevertOf' | 'revertedCommitOf'>): Promise<Attribution | null> {
  if (!failure.pushed || failure.stage !== 'deploy-command' || !failure.mergeCommit || !failure.previousCommit || !failure.branch) return null;
  const manifest: ReleaseManifest = {
    service: failure.service,
    deploymentId: failure.deploymentId,
    correlationId,
    status: 'deployed',
    commit: failure.mergeCommit,
    previousCommit: failure.previousCommit,
    mergeCommit: failure.mergeCommit,
    ref: failure.ref,
    branch: failure.branch,
    requestedBy: failure.requestedBy,
    deployedAt: at,
    ...(failure.release ? { releaseId: failure.release.releaseId } : {}),
  };
  const head = await repo.remoteBranchSha();
  if (await repo.findRevertOf(failure.mergeCommit)) {
    return { attributed: false, reason: 'already-rolled-back', detail: `${shortSha(failure.mergeCommit)} was already reverted`, escalate: false };
  }
  if (head !== failure.mergeCommit) {
    return {
      attributed: false,
      reason: 'not-latest-deployment',
      detail: `the deploy command failed on ${shortSha(failure.mergeCommit)}, but ${failure.branch} has moved on to ${head ? shortSha(head) : 'nothing'}; reverting now would undo newer work`,
      escalate: true,
    };
  }
  const reverts = await repo.revertedCommitOf(failure.mergeCommit);
  if (reverts) {
    return { attributed: false, reason: 'revert-of-revert', detail: `${shortSha(failure.mergeCommit)} is itself a revert of ${shortSha(reverts)}; agentbus does not revert a revert on its own`, escalate: true };
  }
  return { attributed: true, manifest, failingChecks: [], reason: safeText(`the deploy command failed after the merge was pushed: ${failure.error}`, { max: 2_000 }) };
}
