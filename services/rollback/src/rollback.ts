import { AgentbusError, deploymentLeaseOwner, describeError, escalation, quarantinePath, quarantineSchema, releaseManifestPath, safeText, shortSha, type AgentbusRegistry, type Quarantine, type ReleaseManifest } from '@agentbus/contracts';
import type { GitRepo } from '@agentbus/git';
import { willBeRetried, type HandlerContext, type HeldLease, type LeaseManager } from '@agentbus/bus';
import { openServiceRepo, pushAndVerify, pushStageOf, rollbackLeaseMs, runDeployCommand, syncCloneToRemote, type FleetService } from '@agentbus/fleet';
import { cancelPendingFollowups, evidenceOf, runProbes, toCheckResults, waitUntilHealthy, type FollowupStore, type HealthEvidenceStore } from '@agentbus/health';
import { isStateIntegrityError, isStateNotFound, refusedReadEscalation, refusedVersionOf, type RefusedVersion, type StateStore } from '@agentbus/state';
import type { Attribution } from './attribution.ts';

type Stage = 'revert' | 'push' | 'verify-push' | 'redeploy' | 'verify-health';

export interface RollbackDeps {
  fleet: { services: readonly FleetService[] };
  state: StateStore;
  /** Where the re-probe after a rollback is recorded: the next deployment's baseline. */
  evidence: HealthEvidenceStore;
  /** The rolled-back deployment's pending follow-ups are cancelled. */
  followups: FollowupStore;
  leases: LeaseManager;
  leaseWaitMs: number;
}

export const RollbackErrorCodes = {
  /** A rollback stopped for good at a stage (rollback.failed says which): a person takes over. */
  rollbackFailed: 'rollback-failed',
  /** The service did not become healthy within rollback.healthyWithinMs after the rollback. */
  stillUnhealthy: 'still-unhealthy',
} as const;

declare module '@agentbus/contracts' {
  interface AgentbusErrorCodeMaps {
    rollback: typeof RollbackErrorCodes;
  }
}

class RollbackFailed extends AgentbusError {
  constructor(stage: Stage, cause: unknown) {
    super(RollbackErrorCodes.rollbackFailed, `rollback failed at ${stage}: ${describeError(cause)}`, { cause, retryable: false, hint: 'a person must take over: see the rollback.failed event and the escalation' });
  }
}

/**
 * Runs the decision of a rollback (`decide`: read the release manifest and the clone, attribute
 * the failure). When it fails for good (an error that cannot pass, or the last attempt), the
 * platform can neither roll back nor say why it does not: that is a failed rollback, announced at
 * stage `attribute` and escalated, never a silent dead letter.
 */
export async function decideOrEscalate<T>(
  ctx: HandlerContext<AgentbusRegistry>,
  failure: { deploymentId: string; service: string; mergeCommit?: string | undefined },
  deps: RollbackDeps,
  decide: () => Promise<T>,
): Promise<T> {
  try {
    return await decide();
  } catch (error) {
    const final = !willBeRetried(error, ctx.delivery);
    if (!final || ctx.signal.aborted) throw error;
    const { deploymentId, service, mergeCommit } = failure;
    if (mergeCommit) {
      const strategy = deps.fleet.services.find((s) => s.name === service)?.rollback.strategy ?? 'git-revert';
      await ctx.publish('rollback.failed', { deploymentId, service, mergeCommit, strategy, stage: 'attribute', error: describeError(error), revertCommit: null }, { id: `${deploymentId}.rollback.failed` });
    }
    const raised = escalation({
      kind: 'rollback-failed',
      severity: 'critical',
      service,
      summary: `${service}: deployment ${deploymentId} failed its checks, but agentbus could not decide whether to roll it back: ${describeError(error)}`,
      details: { deploymentId, stage: 'attribute', ...(mergeCommit ? { mergeCommit } : {}) },
      about: [deploymentId],
    });
    await ctx.publish('escalation.raised', raised.data, { id: raised.id });
    throw error;
  }
}

/** A failure the platform will not act on: rollback.skipped, an escalation when a human must decide, and the deployment's lease freed. */
export async function skipRollback(
  ctx: HandlerContext<AgentbusRegistry>,
  deps: RollbackDeps,
  failure: { deploymentId: string; service: string; mergeCommit?: string | undefined },
  decision: Extract<Attribution, { attributed: false }>,
  /** The id of the message that told the failure. */
  triggerId: string,
): Promise<void> {
  ctx.log.warn({ reason: decision.reason }, `not rolling back ${failure.service}: ${decision.detail}`);
  // One skip per failure told (its id is the trigger's): a deployment failed again later (a
  // follow-up, a forged or repeated verdict) is answered again, not swallowed as a duplicate.
  await ctx.publish(
    'rollback.skipped',
    { deploymentId: failure.deploymentId, service: failure.service, ...(failure.mergeCommit ? { mergeCommit: failure.mergeCommit } : {}), reason: decision.reason, detail: decision.detail },
    { id: `${triggerId}.rollback.skipped` },
  );
  if (decision.chainBreak) {
    // A data-integrity question no agent settles alone (seed 002): the chain-break escalation, as
    // `agentbus state verify` raises it (one per document and first bad version).
    const raised = refusedReadEscalation(decision.chainBreak, { service: failure.service, summary: `${failure.service} is failing, but agentbus will not roll back on its own: ${decision.detail}`, details: { deploymentId: failure.deploymentId } });
    await ctx.publish('escalation.raised', raised.data, { id: raised.id });
  } else if (decision.escalate) {
    const raised = escalation({
      kind: 'unattributed-failure',
      severity: 'error',
      service: failure.service,
      summary: `${failure.service} is failing, but agentbus will not roll back on its own (${decision.reason}): ${decision.detail}`,
      details: { deploymentId: failure.deploymentId, reason: decision.reason, ...(failure.mergeCommit ? { mergeCommit: failure.mergeCommit } : {}) },
      about: [failure.deploymentId],
      occurrence: [triggerId], // answered once per failure told, like the skip
    });
    await ctx.publish('escalation.raised', raised.data, { id: raised.id });
  }
  await deps.leases.releaseIfOwner(failure.service, failure.deploymentId);
}

/**
 * Records the change a rolled-back deployment merged in `quarantine/<service>`, by its patch id
 * (GitRepo.mergedChangeId), so the deployer refuses it unchanged. Idempotent: a change already
 * there is not added again.
 */
async function quarantineChange(state: StateStore, repo: GitRepo, manifest: ReleaseManifest, what: { incidentId: string; reason: string; taskId: string }): Promise<RefusedVersion | undefined> {
  const patchId = await repo.mergedChangeId(manifest.mergeCommit);
  if (!patchId) return undefined; // a merge that changed nothing has nothing to refuse
  const path = quarantinePath(manifest.service);
  let current: Quarantine = { service: manifest.service, changes: [] };
  try {
    current = quarantineSchema.parse((await state.getVerified(path)).data);
  } catch (error) {
    // A quarantine changed past the state store is not built on (its edit would be carried into a
    // fresh, verifying version): left as it is, for a human (the deployer refuses to deploy over it).
    if (isStateIntegrityError(error)) return refusedVersionOf(error);
    if (!isStateNotFound(error)) throw error;
  }
  if (current.changes.some((change) => change.patchId === patchId)) return undefined;
  const change = { patchId, ref: manifest.ref, mergeCommit: manifest.mergeCommit, deploymentId: manifest.deploymentId, incidentId: what.incidentId, revertedAt: new Date().toISOString(), reason: safeText(what.reason, { max: 1_000 }) };
  await state.put(path, { ...current, changes: [...current.changes, change] }, {
    reason: `quarantined ${manifest.ref} (${shortSha(manifest.mergeCommit)}, patch ${patchId.slice(0, 12)}): reverted by deployment ${manifest.deploymentId}'s rollback`,
    agent: 'rollback',
    taskId: what.taskId,
    writeId: `${manifest.deploymentId}.quarantined`,
  });
  return undefined;
}

/**
 * Rolls an attributed deployment back, under the deployment's own lease (handed over by the
 * deployer, or taken again if it expired). git-revert: `git revert -m 1 <merge>` (a plain revert
 * for a non-merge commit), push, check the remote branch moved to the revert, run the deploy
 * command, re-probe until healthy. redeploy-previous (seed 003): check out the last known good
 * commit and deploy it; the branch is left as it is. Then the release manifest records the
 * rollback and rollback.completed gives the durations; any failure announces rollback.failed and
 * escalates. The lease is released at the end, whatever happened (a release's lease is left to the
 * release, which ends it when it ends).
 *
 * Never `reset --hard`, never a force-push, never a second revert of one deployment: git finds an
 * existing revert, and each announced step and the redeploy are ledger steps, so a redelivered or
 * replayed trigger resumes where it stopped and repeats nothing.
 *
 * The reason (built from a health check's error or a deploy command's output) is outside text:
 * it is made safe where it is built (attribution.ts) and again, bounded, where it is recorded, so
 * the wording of a record can never turn a revert that was pushed into a failed rollback.
 */
export async function rollBack(
  ctx: HandlerContext<AgentbusRegistry>,
  deps: RollbackDeps,
  service: FleetService,
  decision: Extract<Attribution, { attributed: true }>,
  trigger: { id: string; detectedAt: number },
): Promise<void> {
  const { manifest } = decision;
  const deploymentId = manifest.deploymentId;
  const repo = openServiceRepo(service);
  const strategy = service.rollback.strategy;
  const target = { deploymentId, service: service.name, mergeCommit: manifest.mergeCommit, strategy };
  await ctx.step('announce-started', () => ctx.publish('rollback.started', { ...target, reason: decision.reason, failingChecks: decision.failingChecks }, { id: `${deploymentId}.rollback.started` }).then(() => true));

  let stage: Stage = 'revert';
  let lease: HeldLease | undefined;
  let revertCommit: string | null = null;
  try {
    // A step of a release is rolled back under the release's lease, which the release ends.
    lease = await ctx.yieldWhile(() => deps.leases.acquire(service.name, deploymentLeaseOwner(manifest), {
      ttlMs: rollbackLeaseMs(service),
      maxWaitMs: deps.leaseWaitMs,
      signal: ctx.signal,
      onWait: () => ctx.working(),
    }));
    let restoredCommit: string;
    if (strategy === 'git-revert') {
      await syncCloneToRemote(repo);
      const revert = await repo.revertCommit(manifest.mergeCommit, { deploymentId, reason: decision.reason }); // git makes the reason a safe paragraph
      revertCommit = revert.revertCommit;
      stage = 'push';
      try {
        await pushAndVerify(repo);
      } catch (error) {
        stage = pushStageOf(error);
        throw error;
      }
      restoredCommit = revert.revertCommit;
    } else {
      await repo.fetch();
      await repo.switchToCommit(manifest.previousCommit);
      restoredCommit = manifest.previousCommit;
    }
    const revertedAt = await ctx.step('announce-reverted', async () => {
      const now = Date.now();
      await ctx.publish('rollback.reverted', { ...target, revertCommit, restoredCommit, pushedAt: new Date(now).toISOString() }, { id: `${deploymentId}.rollback.reverted` });
      return now;
    });

    stage = 'redeploy';
    // Rejects with a FleetError (not retryable) on a non-zero exit or a time-out, its output in the message.
    const redeploy = await ctx.step('redeploy', async () => ({ durationMs: (await runDeployCommand(service.deploy)).durationMs }));

    stage = 'verify-health';
    const verified = await waitUntilHealthy(service.health.checks, { timeoutMs: service.rollback.healthyWithinMs, intervalMs: 250, signal: ctx.signal });
    if (!verified.healthy) {
      throw new AgentbusError(RollbackErrorCodes.stillUnhealthy, `${service.name} is still unhealthy ${verified.elapsedMs} ms after the rollback (${verified.failingChecks.join(', ')})`, { retryable: false });
    }
    const final = await runProbes(service.health.checks, { probes: 1, intervalMs: 0, consecutiveFailures: 1 });
    await deps.evidence.record(service.name, evidenceOf(final, 'rollback', deploymentId));
    const updated: ReleaseManifest = { ...manifest, status: 'rolled-back', commit: restoredCommit, rolledBackAt: new Date().toISOString(), revertCommit };
    await deps.state.put(releaseManifestPath(service.name), updated, {
      // safeText again: a decision recorded by an earlier version (the ledger's attribute step) may hold raw text.
      reason: safeText(`rolled back ${manifest.ref} (${shortSha(manifest.mergeCommit)}) by ${strategy}: ${decision.reason}`, { max: 1_000 }),
      agent: 'rollback',
      taskId: trigger.id,
      writeId: `${deploymentId}.rolled-back`,
    });
    // Never the same bad change twice: the deployer refuses this change from now on, unless asked
    // (not a change rolled back only because its release was: nothing showed it bad).
    if (decision.quarantine !== false) {
      const refused = await ctx.step('quarantine', () => quarantineChange(deps.state, repo, manifest, { incidentId: manifest.correlationId, reason: decision.reason, taskId: trigger.id }).then((tampered) => tampered ?? null));
      if (refused) {
        const raised = refusedReadEscalation(refused, { service: service.name, summary: `${service.name} was rolled back, but its quarantine fails verification (${refused.reason}): the reverted change was not quarantined`, details: { deploymentId } });
        await ctx.publish('escalation.raised', raised.data, { id: raised.id });
      }
    }
    await ctx.step('cancel-followups', () =>
      cancelPendingFollowups(deps.followups, ctx, { service: service.name, deploymentId }, { reason: 'rolled-back', detail: `deployment ${deploymentId} (${shortSha(manifest.mergeCommit)}) was rolled back` }).then((cancelled) => cancelled.length),
    );
    const now = Date.now();
    await ctx.step('announce-completed', () =>
      ctx
        .publish(
          'rollback.completed',
          {
            ...target,
            revertCommit,
            restoredCommit,
            checks: toCheckResults(final),
            durations: {
              revertMs: Math.max(0, revertedAt - trigger.detectedAt),
              redeployMs: redeploy.durationMs,
              verifyMs: verified.elapsedMs,
              verifyWaitMs: verified.waitedMs + verified.timedOutMs,
              totalMs: Math.max(0, now - trigger.detectedAt),
            },
          },
          { id: `${deploymentId}.rollback.completed` },
        )
        .then(() => true),
    );
    ctx.log.info({ revertCommit, restoredCommit }, `rolled back ${service.name} ${shortSha(manifest.mergeCommit)}: healthy again`);
  } catch (error) {
    if (willBeRetried(error, ctx.delivery)) throw error;
    await ctx.publish('rollback.failed', { ...target, stage, error: describeError(error), revertCommit }, { id: `${deploymentId}.rollback.failed` });
    const raised = escalation({
      kind: 'rollback-failed',
      severity: 'critical',
      service: service.name,
      summary: `${service.name}: rolling back ${manifest.ref} (${shortSha(manifest.mergeCommit)}) failed at ${stage}: ${describeError(error)}`,
      details: { deploymentId, stage, mergeCommit: manifest.mergeCommit, revertCommit, strategy },
      about: [deploymentId],
    });
    await ctx.publish('escalation.raised', raised.data, { id: raised.id });
    throw new RollbackFailed(stage, error);
  } finally {
    if (!manifest.releaseId) await lease?.release().catch((error: unknown) => ctx.log.error({ err: describeError(error) }, 'could not release the lease'));
  }
}
