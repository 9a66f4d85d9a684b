import { AgentbusError, deploymentLeaseOwner, describeError, escalation, formatIssues, quarantinePath, quarantineSchema, releaseManifestPath, releaseManifestSchema, safeText, shortSha, type AgentbusRegistry, type Baseline, type Quarantine, type ReleaseManifest } from '@agentbus/contracts';
import { isGitError, type GitRepo } from '@agentbus/git';
import { willBeRetried, type Handler, type HandlerContext, type HeldLease, type LeaseManager } from '@agentbus/bus';
import { deploymentLeaseMs, findService, isFleetError, openServiceRepo, pushAndVerify, pushStageOf, runDeployCommand, syncCloneToRemote, type DeployCommandResult, type FleetService } from '@agentbus/fleet';
import { captureMetricBaseline, evidenceOf, probeBaseline, PrometheusClient, type Evidence, type HealthEvidenceStore, type PrometheusSection } from '@agentbus/health';
import { isStateNotFound, type StateStore } from '@agentbus/state';
import { DeployStages } from '@agentbus/contracts';

type Stage = (typeof DeployStages)[number];

export interface DeployDeps {
  fleet: { services: readonly FleetService[]; prometheus?: PrometheusSection | undefined };
  state: StateStore;
  evidence: HealthEvidenceStore;
  leases: LeaseManager;
  leaseWaitMs: number;
}

export const DeployerErrorCodes = {
  /** A deploy stopped for good at a stage (deploy.failed says which); redrive it after fixing the cause. */
  deployFailed: 'deploy-failed',
  /** The ref makes a change agentbus reverted on the service before (quarantine/<service>). */
  changeQuarantined: 'change-quarantined',
} as const;

declare module '@agentbus/contracts' {
  interface AgentbusErrorCodeMaps {
    deployer: typeof DeployerErrorCodes;
  }
}

/** A deploy that stopped for a reason a retry cannot fix: dead-lettered after deploy.failed is sent. */
class DeployFailed extends AgentbusError {
  constructor(stage: Stage, cause: unknown) {
    super(DeployerErrorCodes.deployFailed, `deploy failed at ${stage}: ${describeError(cause)}`, {
      cause,
      retryable: false,
      hint: 'see the deploy.failed event; fix the cause and redrive the task (agentbus dlq redrive <seq>)',
    });
  }
}

/**
 * deployer.deploy: lease the service, fetch, merge the ref (a merge commit), push, and check the
 * remote branch itself (seed 000's "verify push": if the remote did not move, the deploy failed
 * whatever git said); then run the deploy command, record the release manifest and announce
 * deploy.completed. dryRun announces the plan (deploy.planned) and changes nothing.
 *
 * The lease on the service is taken with the deployment id as its owner. After a successful
 * deploy it is not released here: the health monitor releases it after its verdict, or the
 * rollback agent after rolling back; a deploy command that failed on pushed code is handed to the
 * rollback agent the same way. Any earlier failure releases it at once.
 *
 * Idempotent: a redelivered or replayed task finds its merge already on the branch (git), and
 * its deploy command, manifest and events recorded as done (ledger steps): nothing repeats.
 * Every failure is announced as deploy.failed with its stage; failures a retry cannot fix are
 * dead-lettered (redrive after fixing the cause), transient ones are retried.
 */
export function deployHandler(deps: DeployDeps): Handler<AgentbusRegistry, 'deployer.deploy'> {
  return async (task, ctx) => {
    const { ref, requestedBy, dryRun } = task.data;
    const deploymentId = task.id;
    let stage: Stage = 'config';
    let mergeCommit: string | undefined;
    let previousCommit: string | undefined;
    let pushed = false;
    const release = task.data.release;
    const base = { deploymentId, service: task.data.service, ref, requestedBy, ...(release ? { release } : {}) };
    // A step of a release deploys under the release's lease (taken at its start, freed at its end).
    const leaseOwner = deploymentLeaseOwner(base);
    let lease: HeldLease | undefined;
    let handOver = false;
    try {
      const service = findService(deps.fleet, task.data.service);
      const branch = service.git.branch;
      const repo = openServiceRepo(service);
      const event = { ...base, branch };

      if (dryRun) {
        stage = 'fetch';
        await repo.fetch();
        const currentCommit = (await repo.remoteBranchSha()) ?? (await repo.branchSha());
        const refCommit = await repo.resolveCommit(ref);
        const alreadyMerged = await repo.isAncestor(refCommit, currentCommit);
        const steps = alreadyMerged
          ? [`${ref} (${shortSha(refCommit)}) is already in ${branch}: nothing to merge`]
          : [
              `lease ${service.name}`,
              `fetch ${service.git.remote} in ${service.git.path}`,
              `merge ${ref} (${shortSha(refCommit)}) into ${branch} at ${shortSha(currentCommit)} as a merge commit`,
              `push ${branch} to ${service.git.remote} and check that the remote branch is at the merge commit`,
              `run ${JSON.stringify(service.deploy.command)} in ${service.deploy.cwd} (time-out ${service.deploy.timeoutMs} ms)`,
              `record ${releaseManifestPath(service.name)} and announce deploy.completed`,
            ];
        // The quarantine's verdict, without refusing: a plan says what would happen.
        const reverted = alreadyMerged ? undefined : await checkQuarantine(repo, service.name, ref, true, deps.state);
        if (reverted) {
          steps.splice(0, 0, task.data.allowReverted
            ? `${ref} makes the same change agentbus reverted in incident ${reverted.incidentId}: deployed anyway (allowReverted), recorded in deploy.merged`
            : `${ref} makes the same change agentbus reverted in incident ${reverted.incidentId}: the deploy would be refused before merging (allowReverted deploys it anyway)`);
        }
        await ctx.publish('deploy.planned', { ...event, currentCommit, refCommit, alreadyMerged, steps }, { id: `${deploymentId}.planned` });
        ctx.log.info({ steps }, `dry run of ${service.name} ${ref}: nothing changed`);
        return;
      }

      stage = 'lease';
      // Waiting for another deployment of the service holds no slot: that deployment's own task may
      // be the next message of this consumer (redelivered after its deployer died).
      lease = await ctx.yieldWhile(() => deps.leases.acquire(service.name, leaseOwner, {
        ttlMs: deploymentLeaseMs(service),
        maxWaitMs: deps.leaseWaitMs,
        signal: ctx.signal,
        onWait: (busy) => {
          ctx.working();
          ctx.log.debug({ holder: busy.details }, `waiting for the lease on ${service.name}`);
        },
      }));

      // The service's health just before this merge, kept with the deployment (a ledger step: a
      // redelivery after the merge must not take the merged version for the baseline). Taken
      // while the clone is brought up to date: neither needs the other.
      let baselineFailed = false;
      const capturing = ctx.step('baseline', () => captureBaseline(service, deps)).catch((error: unknown) => {
        baselineFailed = true;
        throw error;
      });
      capturing.catch(() => {}); // awaited below; a fetch that fails first must not leave it unhandled
      // The metric checks' values just before the merge (never fails: a value Prometheus did not
      // give is marked, and the judge asks for it at this time later).
      const prometheus = deps.fleet.prometheus;
      const metricBaseline =
        service.health.metrics.length && prometheus ? ctx.step('metric-baseline', () => captureMetricBaseline(new PrometheusClient(prometheus), service.health.metrics)) : Promise.resolve(undefined);
      metricBaseline.catch(() => {});

      stage = 'fetch';
      let dropped: string[];
      try {
        ({ dropped } = await syncCloneToRemote(repo));
      } catch (error) {
        if (isFleetError(error, 'clone-drifted')) stage = 'drift';
        throw error;
      }
      if (dropped.length) ctx.log.warn({ dropped }, 'dropped local commits that were never pushed');
      const baseline = await capturing.catch((error: unknown) => {
        if (baselineFailed) stage = 'baseline';
        throw error;
      });
      const metrics = await metricBaseline;

      stage = 'quarantine';
      const allowedReverted = await checkQuarantine(repo, service.name, ref, task.data.allowReverted, deps.state);
      if (allowedReverted) ctx.log.warn({ allowedReverted }, `deploying ${ref} although agentbus reverted the same change (incident ${allowedReverted.incidentId}): the task allowed it`);

      stage = 'merge';
      const merge = await repo.mergeRef(ref, {
        message: `Merge ${ref} into ${branch}`,
        // requestedBy is one safe line (the task schema makes it so); git makes trailer values safe lines too.
        trailers: { 'Agentbus-Deployment': deploymentId, 'Agentbus-Requested-By': requestedBy },
      });
      mergeCommit = merge.mergeCommit;
      previousCommit = merge.previousHead;

      stage = 'push';
      try {
        await pushAndVerify(repo, { dropUnpushed: true, onDropFailed: (dropError) => ctx.log.error({ err: describeError(dropError) }, 'could not drop the unpushed merge') });
      } catch (error) {
        stage = pushStageOf(error);
        throw error;
      }
      pushed = true;
      const mergedAt = new Date().toISOString();
      const merged = { ...event, mergeCommit, previousCommit, baseline, ...(metrics ? { metricBaseline: metrics } : {}) };
      const mergedOnly = allowedReverted ? { allowedReverted } : {};
      await ctx.step('announce-merged', () => ctx.publish('deploy.merged', { ...merged, ...mergedOnly, pushedAt: mergedAt }, { id: `${deploymentId}.merged` }).then(() => true));

      stage = 'deploy-command';
      const command = await ctx.step('deploy-command', async () => {
        // Rejects with a FleetError (not retryable) on a non-zero exit or a time-out; its output is in details.result.
        const result = await runDeployCommand(service.deploy);
        return { durationMs: result.durationMs, deployedAt: new Date().toISOString() };
      });

      stage = 'manifest';
      const manifest: ReleaseManifest = {
        service: service.name,
        deploymentId,
        correlationId: task.correlationId,
        status: 'deployed',
        commit: mergeCommit,
        previousCommit,
        mergeCommit,
        ref,
        branch,
        requestedBy,
        deployedAt: command.deployedAt,
        ...(release ? { releaseId: release.releaseId } : {}),
      };
      await deps.state.put(releaseManifestPath(service.name), manifest, {
        reason: `deploy ${ref} (${shortSha(mergeCommit)}) requested by ${requestedBy}`,
        agent: 'deployer',
        taskId: deploymentId,
        writeId: `${deploymentId}.deployed`,
      });
      await ctx.step('announce-completed', () =>
        ctx.publish('deploy.completed', { ...merged, mergedAt, deployedAt: command.deployedAt, deployCommandMs: command.durationMs }, { id: `${deploymentId}.completed` }).then(() => true),
      );
      ctx.log.info({ mergeCommit, previousCommit }, `deployed ${service.name} ${ref} at ${shortSha(mergeCommit)}`);
      handOver = true; // the health monitor judges the deployment under this lease and releases it
    } catch (error) {
      if (willBeRetried(error, ctx.delivery)) throw error;
      // A failed deploy command on pushed code is the rollback agent's to undo, under this lease.
      handOver = pushed && stage === 'deploy-command';
      const branch = deps.fleet.services.find((s) => s.name === base.service)?.git.branch;
      await announceFailure(ctx, { ...base, ...(branch ? { branch } : {}) }, stage, error, { mergeCommit, previousCommit, pushed });
      if (isFleetError(error, 'clone-drifted')) {
        // Production was changed by hand: a human decides what becomes of it (seed 000's lockdown).
        const raised = escalation({ kind: 'drift', severity: 'error', service: base.service, summary: `deploy of ${base.service} ${base.ref} refused: ${describeError(error)}`, details: { deploymentId, ...(isFleetError(error) ? error.details : {}) }, about: [base.service, 'deploy-refused'], occurrence: [deploymentId] });
        await ctx.publish('escalation.raised', raised.data, { id: raised.id });
      }
      throw new DeployFailed(stage, error);
    } finally {
      // A release's lease is the release's to end.
      if (lease && !handOver && !release) await releaseLease(ctx, lease, base.service, deploymentId);
    }
  };
}

/**
 * Never the same bad change twice: when `ref` changes what a change agentbus reverted on the
 * service changed (the same patch id, however its commits were made), the deploy is refused
 * before anything is merged, naming the incident that reverted it, unless the task allows it
 * (then it returns what it matched, for deploy.merged). A changed fix has another patch id and
 * deploys normally. Nothing is computed for a service with no reverted change.
 */
async function checkQuarantine(repo: GitRepo, service: string, ref: string, allowReverted: boolean, state: StateStore): Promise<{ patchId: string; incidentId: string; revertedMergeCommit: string } | undefined> {
  let stored: unknown;
  try {
    // A version that fails verification (changed past the state store) is never acted on.
    stored = (await state.getVerified(quarantinePath(service))).data;
  } catch (error) {
    if (isStateNotFound(error)) return undefined;
    throw error;
  }
  // Anyone may write a document (agentbus state put): one that is not a quarantine stops the deploy, saying so.
  const parsed = quarantineSchema.safeParse(stored);
  if (!parsed.success) {
    throw new AgentbusError(DeployerErrorCodes.changeQuarantined, `${quarantinePath(service)} is not a quarantine document (${formatIssues(parsed.error, '')}), so agentbus cannot tell whether ${ref} was reverted before; nothing was merged`, {
      retryable: false,
      hint: `restore its last good version (agentbus state history ${quarantinePath(service)}, then agentbus state restore)`,
    });
  }
  const quarantine: Quarantine = parsed.data;
  if (quarantine.changes.length === 0) return undefined;
  // An unknown ref is the merge's to name (stage merge), as without a quarantine.
  const refCommit = await repo.resolveCommit(ref).catch((error: unknown) => {
    if (isGitError(error, 'unknown-ref')) return undefined;
    throw error;
  });
  if (!refCommit) return undefined;
  const patchId = await repo.changeId(await repo.branchSha(), refCommit);
  const match = patchId ? quarantine.changes.find((change) => change.patchId === patchId) : undefined;
  if (!match) return undefined;
  if (allowReverted) return { patchId: match.patchId, incidentId: match.incidentId, revertedMergeCommit: match.mergeCommit };
  throw new AgentbusError(
    DeployerErrorCodes.changeQuarantined,
    `${ref} makes the same change as ${match.ref}, which agentbus reverted on ${service} at ${match.revertedAt} (incident ${match.incidentId}, merge ${shortSha(match.mergeCommit)}: ${match.reason}); nothing was merged`,
    { retryable: false, hint: `deploy a changed fix, or this change again on purpose with allowReverted (agentbus deploy ${service} --ref ${ref} --allow-reverted); the incident: agentbus postmortem show ${match.incidentId}`, details: { patchId, incidentId: match.incidentId } },
  );
}

/**
 * The baseline of a deployment: the newest evidence of the service's health (a watch sample, the
 * previous deployment's verdict, a rollback's re-probe) taken since the previous deployment of
 * the service; evidence from before it describes code that no longer runs. With none, the
 * deployer probes the service itself (and records that as evidence). Null only when the service
 * cannot be probed at all.
 */
async function captureBaseline(service: FleetService, deps: DeployDeps): Promise<Baseline | null> {
  const [previousDeployAt, newest] = await Promise.all([
    deps.state.getVerified(releaseManifestPath(service.name)).then(
      (head) => Date.parse(releaseManifestSchema.parse(head.data).deployedAt),
      (error: unknown) => {
        if (isStateNotFound(error)) return -Infinity;
        throw error;
      },
    ),
    deps.evidence.latest(service.name),
  ]);
  const evidence = newest && Date.parse(newest.checkedAt) >= previousDeployAt ? newest : await probeNow(service, deps);
  return { healthy: evidence.healthy, checkedAt: evidence.checkedAt, checks: evidence.checks, source: evidence.source, ...(evidence.deploymentId ? { deploymentId: evidence.deploymentId } : {}) };
}

async function probeNow(service: FleetService, deps: DeployDeps): Promise<Evidence> {
  const probe = evidenceOf((await probeBaseline(service.health.checks, { probes: 2, intervalMs: 100 })).report, 'deploy-probe');
  await deps.evidence.record(service.name, probe);
  return probe;
}

async function announceFailure(
  ctx: HandlerContext<AgentbusRegistry>,
  event: { deploymentId: string; service: string; ref: string; requestedBy: string; branch?: string },
  stage: Stage,
  error: unknown,
  extra: { mergeCommit?: string; previousCommit?: string; pushed: boolean },
): Promise<void> {
  const result = isFleetError(error) ? (error.details.result as DeployCommandResult | undefined) : undefined;
  // The command's output is already safe (runDeployCommand); keep its end, cut at a code point.
  const stderr = result?.stderr ? safeText(result.stderr, { max: 8_000, keep: 'end' }) : undefined;
  const exitCode = result ? result.exitCode : undefined;
  ctx.log.error({ stage, err: describeError(error) }, `deploy of ${event.service} ${event.ref} failed at ${stage}`);
  await ctx.publish(
    'deploy.failed',
    {
      ...event,
      stage,
      error: describeError(error),
      ...(stderr ? { stderr } : {}),
      ...(exitCode !== undefined ? { exitCode } : {}),
      ...(extra.mergeCommit ? { mergeCommit: extra.mergeCommit } : {}),
      ...(extra.previousCommit ? { previousCommit: extra.previousCommit } : {}),
      pushed: extra.pushed,
    },
    { id: `${event.deploymentId}.failed` },
  );
}

async function releaseLease(ctx: HandlerContext<AgentbusRegistry>, lease: HeldLease, service: string, deploymentId: string): Promise<void> {
  try {
    const released = await lease.release();
    if (released.conflict) {
      const raised = escalation({
        kind: 'lease-conflict',
        severity: 'critical',
        service,
        summary: `${service}: deployment ${deploymentId} outlived its lease and ${released.takenBy.holder} took the service over for ${released.takenBy.owner}: two agents changed ${service} at the same time`,
        details: { deploymentId, epoch: lease.epoch, takenBy: released.takenBy },
        about: [service, lease.epoch],
      });
      await ctx.publish('escalation.raised', raised.data, { id: raised.id });
    }
  } catch (error) {
    ctx.log.error({ err: describeError(error) }, `could not release the lease on ${service}`);
  }
}
