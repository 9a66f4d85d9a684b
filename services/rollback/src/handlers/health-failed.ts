import { AgentbusError, describeError, releaseManifestPath, type AgentbusRegistry, type ReleaseManifest } from '@agentbus/contracts';
import type { Handler, HandlerContext, HeldLease, LeaseManager } from '@agentbus/bus';
import { findService, openServiceRepo, runDeployCommand, type FleetService } from '@agentbus/fleet';
import { isGitError } from '@agentbus/git';
import { runProbes, toCheckResults, waitUntilHealthy } from '@agentbus/health';
import type { StateStore } from '@agentbus/state';
import { attributeFailure, type Attribution } from '../attribution.ts';

type Stage = 'revert' | 'push' | 'verify-push' | 'redeploy' | 'verify-health';

export interface RollbackDeps {
  fleet: { services: readonly FleetService[] };
  state: StateStore;
  leases: LeaseManager;
  leaseWaitMs: number;
}

class RollbackFailed extends AgentbusError {
  constructor(stage: Stage, cause: unknown) {
    super('rollback-failed', `rollback failed at ${stage}: ${describeError(cause)}`, { cause, retryable: false, hint: 'a person must take over: see the rollback.failed event and the escalation' });
  }
}

const retryable = (error: unknown) => (error instanceof AgentbusError ? error.retryable : true);

/**
 * health.failed (after a deploy): roll back only a failure attributed to that deployment (see
 * attribution.ts); otherwise announce rollback.skipped with the reason and raise an escalation.
 *
 * git-revert: `git revert -m 1 <merge>` (a plain revert for a non-merge commit), push, check the
 * remote branch moved to the revert, run the deploy command, re-probe until healthy. redeploy-
 * previous (seed 003): check out the last known good commit and deploy it; the branch is left as
 * it is. Then the release manifest records the rollback and rollback.completed gives the
 * durations; any failure announces rollback.failed and escalates.
 *
 * Never `reset --hard`, never a force-push, never a second revert of one deployment (git finds
 * the existing revert; the decision and each step are ledger steps, so a redelivered or replayed
 * health.failed resumes or skips, it never repeats).
 */
export function healthFailedHandler(deps: RollbackDeps): Handler<AgentbusRegistry, 'health.failed'> {
  return async (event, ctx) => {
    const failure = event.data;
    if (failure.phase !== 'post-deploy') return; // re-probes after a rollback are the rollback's own business
    const detectedAt = Date.parse(event.time);
    const service = findService(deps.fleet, failure.service);
    const repo = openServiceRepo(service);
    const lastAttempt = ctx.delivery.deliveryCount >= ctx.delivery.maxDeliver;
    const decision: Attribution = await ctx.step('attribute', async () => {
      await repo.fetch();
      return attributeFailure(failure, service, deps.state, repo);
    });
    if (!decision.attributed) {
      await skip(ctx, failure, decision);
      return;
    }
    const { manifest } = decision;
    const strategy = service.rollback.strategy;
    const target = { deploymentId: failure.deploymentId, service: service.name, mergeCommit: manifest.mergeCommit, strategy };
    await ctx.step('announce-started', () => ctx.publish('rollback.started', { ...target, reason: decision.reason, failingChecks: decision.failingChecks }, { id: `${failure.deploymentId}.rollback.started` }).then(() => true));

    let stage: Stage = 'revert';
    let lease: HeldLease | undefined;
    let revertCommit: string | null = null;
    try {
      lease = await deps.leases.acquire(service.name, `rollback.${failure.deploymentId}`, {
        ttlMs: service.deploy.timeoutMs + service.rollback.healthyWithinMs + 4 * service.git.timeoutMs + 60_000,
        maxWaitMs: deps.leaseWaitMs,
        signal: ctx.signal,
        onWait: () => ctx.working(),
      });
      let restoredCommit: string;
      if (strategy === 'git-revert') {
        await repo.switchToBranch();
        await repo.fetch();
        if ((await repo.fastForwardToRemote()).status === 'ahead') await repo.dropUnpushedCommits();
        const revert = await repo.revertCommit(manifest.mergeCommit, { deploymentId: failure.deploymentId, reason: decision.reason });
        revertCommit = revert.revertCommit;
        stage = 'push';
        try {
          await repo.push();
        } catch (error) {
          if (isGitError(error, 'remote-sha-mismatch')) stage = 'verify-push';
          throw error;
        }
        restoredCommit = revert.revertCommit;
      } else {
        await repo.fetch();
        await repo.switchToCommit(manifest.previousCommit);
        restoredCommit = manifest.previousCommit;
      }
      const revertedAt = Date.now();
      await ctx.step('announce-reverted', () =>
        ctx.publish('rollback.reverted', { ...target, revertCommit, restoredCommit, pushedAt: new Date(revertedAt).toISOString() }, { id: `${failure.deploymentId}.rollback.reverted` }).then(() => revertedAt),
      );

      stage = 'redeploy';
      const redeploy = await ctx.step('redeploy', async () => {
        const result = await runDeployCommand(service.deploy);
        if (result.exitCode !== 0 || result.timedOut) {
          throw new AgentbusError('deploy-command-failed', `${JSON.stringify(service.deploy.command)} ${result.timedOut ? 'timed out' : `exited with ${result.exitCode}`}: ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`, { retryable: false });
        }
        return { durationMs: result.durationMs };
      });

      stage = 'verify-health';
      const verified = await waitUntilHealthy(service.health.checks, { timeoutMs: service.rollback.healthyWithinMs, intervalMs: 250, signal: ctx.signal });
      if (!verified.healthy) {
        throw new AgentbusError('still-unhealthy', `${service.name} is still unhealthy ${verified.elapsedMs} ms after the rollback (${verified.failingChecks.join(', ')})`, { retryable: false });
      }
      const final = await runProbes(service.health.checks, { probes: 1, intervalMs: 0, consecutiveFailures: 1 });
      const rolledBackAt = new Date().toISOString();
      const updated: ReleaseManifest = { ...manifest, status: 'rolled-back', commit: restoredCommit, rolledBackAt, revertCommit };
      await deps.state.put(releaseManifestPath(service.name), updated, {
        reason: `rolled back ${manifest.ref} (${manifest.mergeCommit.slice(0, 12)}) by ${strategy}: ${decision.reason}`.slice(0, 1000),
        agent: 'rollback',
        taskId: event.id,
        writeId: `${failure.deploymentId}.rolled-back`,
      });
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
                revertMs: Math.max(0, revertedAt - detectedAt),
                redeployMs: redeploy.durationMs,
                verifyMs: verified.elapsedMs,
                verifyWaitMs: verified.waitedMs + verified.timedOutMs,
                totalMs: Math.max(0, now - detectedAt),
              },
            },
            { id: `${failure.deploymentId}.rollback.completed` },
          )
          .then(() => true),
      );
      ctx.log.info({ revertCommit, restoredCommit }, `rolled back ${service.name} ${manifest.mergeCommit.slice(0, 12)}: healthy again`);
    } catch (error) {
      if (retryable(error) && !lastAttempt) throw error;
      await ctx.publish('rollback.failed', { ...target, stage, error: describeError(error), revertCommit }, { id: `${failure.deploymentId}.rollback.failed` });
      await ctx.publish(
        'escalation.raised',
        {
          dedupKey: `agentbus.rollback-failed.${failure.deploymentId}`,
          kind: 'rollback-failed',
          severity: 'critical',
          service: service.name,
          summary: `${service.name}: rolling back ${manifest.ref} (${manifest.mergeCommit.slice(0, 12)}) failed at ${stage}: ${describeError(error)}`.slice(0, 1024),
          details: { deploymentId: failure.deploymentId, stage, mergeCommit: manifest.mergeCommit, revertCommit, strategy },
        },
        { id: `escalation.rollback-failed.${failure.deploymentId}` },
      );
      throw new RollbackFailed(stage, error);
    } finally {
      await lease?.release().catch((error: unknown) => ctx.log.error({ err: describeError(error) }, 'could not release the lease'));
    }
  };
}

async function skip(ctx: HandlerContext<AgentbusRegistry>, failure: { deploymentId: string; service: string; mergeCommit?: string }, decision: Extract<Attribution, { attributed: false }>): Promise<void> {
  ctx.log.warn({ reason: decision.reason }, `not rolling back ${failure.service}: ${decision.detail}`);
  await ctx.publish(
    'rollback.skipped',
    { deploymentId: failure.deploymentId, service: failure.service, ...(failure.mergeCommit ? { mergeCommit: failure.mergeCommit } : {}), reason: decision.reason, detail: decision.detail },
    { id: `${failure.deploymentId}.rollback.skipped` },
  );
  if (!decision.escalate) return;
  await ctx.publish(
    'escalation.raised',
    {
      dedupKey: `agentbus.unattributed-failure.${failure.deploymentId}`,
      kind: 'unattributed-failure',
      severity: 'error',
      service: failure.service,
      summary: `${failure.service} is failing health checks, but agentbus will not roll back on its own (${decision.reason}): ${decision.detail}`.slice(0, 1024),
      details: { deploymentId: failure.deploymentId, reason: decision.reason, ...(failure.mergeCommit ? { mergeCommit: failure.mergeCommit } : {}) },
    },
    { id: `escalation.unattributed-failure.${failure.deploymentId}` },
  );
}
