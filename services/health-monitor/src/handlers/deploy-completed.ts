import { setTimeout as sleep } from 'node:timers/promises';
import { describeError, escalation, shortSha, type AgentbusRegistry, type Baseline } from '@agentbus/contracts';
import { willBeRetried, type Handler, type LeaseManager } from '@agentbus/bus';
import { failingSummary, findService, judgeService, type FleetService, type VerdictOutcome } from '@agentbus/fleet';
import { cancelPendingFollowups, evidenceOf, type FollowupStore, type HealthEvidenceStore, type PrometheusSection } from '@agentbus/health';
import { scheduleFollowups } from '../followups.ts';

/**
 * deploy.completed: wait the service's stabilization window, probe its checks, evaluate its
 * metric checks, and announce health.passed, health.failed or health.inconclusive (with an
 * escalation) with every check's status, p95 latency and error, every metric's value against its
 * limits and baseline, and the baseline (the service's health just before the deploy). A
 * deployment that is not failed gets its follow-up checks scheduled; a new deployment cancels the
 * pending follow-ups of the service's older ones.
 *
 * The baseline is the one the deployer captured when the deployment began and carried in the
 * event, so a verdict given late (a redelivery after a stall, a consumer that caught up) judges
 * against the same baseline as a prompt one. (An event without one, from before baselines were
 * carried, falls back to the newest evidence that finished before the merge.)
 *
 * Latency is judged on p95 over the probes; a fatal check fails only after the configured number
 * of consecutive failed probes; warnings never fail a deployment. The verdict is announced once
 * per deployment (a ledger step), whatever redeliveries follow, and recorded as evidence of the
 * service's health (the next deployment's baseline, unless something newer is seen). The
 * deployment still holds its service's lease while it is judged (no other deploy can restart the
 * service meanwhile); a passed verdict releases it.
 */
export interface DeployCompletedDeps {
  fleet: { services: readonly FleetService[]; prometheus?: PrometheusSection | undefined };
  evidence: HealthEvidenceStore;
  followups: FollowupStore;
  leases: LeaseManager;
}

export function deployCompletedHandler(deps: DeployCompletedDeps): Handler<AgentbusRegistry, 'deploy.completed'> {
  const judge = judgeDeployment(deps);
  return async (event, ctx) => {
    try {
      await judge(event, ctx);
    } catch (error) {
      // No verdict will come of this delivery and none after it (the error cannot pass, or this was
      // the last attempt): a deployment is never left neither judged nor told. Its lease is kept:
      // nothing else deploys the service over a deployment nobody judged, until a human looks (or
      // the lease runs out).
      const final = !willBeRetried(error, ctx.delivery);
      if (final && !ctx.signal.aborted) {
        const { deploymentId, service, mergeCommit } = event.data;
        const raised = escalation({
          kind: 'inconclusive',
          severity: 'critical',
          service,
          summary: `${service}: deployment ${deploymentId} (${shortSha(mergeCommit)}) could not be judged, so agentbus neither passed nor rolled it back: ${describeError(error)}`,
          details: { deploymentId, mergeCommit, attempts: ctx.delivery.deliveryCount },
          about: [deploymentId],
        });
        await ctx.publish('escalation.raised', raised.data, { id: raised.id });
      }
      throw error;
    }
  };
}

function judgeDeployment(deps: DeployCompletedDeps): Handler<AgentbusRegistry, 'deploy.completed'> {
  return async (event, ctx) => {
    const { deploymentId, mergeCommit } = event.data;
    const service = findService(deps.fleet, event.data.service);
    const { health } = service;
    // A newer deployment makes the older ones' follow-ups pointless (they would judge code that no longer runs).
    await ctx.step('cancel-older-followups', () =>
      cancelPendingFollowups(deps.followups, ctx, { service: service.name, exceptDeploymentId: deploymentId }, { reason: 'superseded', supersededBy: deploymentId, detail: `deployment ${deploymentId} (${shortSha(mergeCommit)}) of ${service.name} came after it` }).then((cancelled) => cancelled.length),
    );
    const baseline: Baseline | null =
      event.data.baseline !== undefined ? event.data.baseline : ((await deps.evidence.latest(service.name, { finishedBy: Date.parse(event.data.mergedAt) })) ?? null);
    const startedAt = new Date().toISOString();
    if (health.stabilizationMs > 0) {
      ctx.log.info({ stabilizationMs: health.stabilizationMs }, `${service.name}: stabilization wait before probing`);
      await sleep(health.stabilizationMs, undefined, { signal: ctx.signal });
    }
    const judgment = await judgeService(service, deps.fleet.prometheus, { baseline, metricBaseline: event.data.metricBaseline }, { startedAt, signal: ctx.signal });
    const verdict = { deploymentId, service: service.name, phase: 'post-deploy' as const, mergeCommit, stabilizationMs: health.stabilizationMs, ...judgment.fields };
    // A redelivery after the announcement keeps what was announced, whatever its own probes say
    // (a step recorded before metric checks holds `healthy` as a boolean).
    const announced: VerdictOutcome | boolean = await ctx.step('announce-verdict', async (): Promise<VerdictOutcome | boolean> => {
      const id = `${deploymentId}.health`;
      if (judgment.outcome === 'passed') await ctx.publish('health.passed', verdict, { id });
      else if (judgment.outcome === 'failed') await ctx.publish('health.failed', verdict, { id });
      else {
        await ctx.publish('health.inconclusive', verdict, { id });
        const raised = escalation({
          kind: 'inconclusive',
          severity: 'critical',
          service: service.name,
          summary: `${service.name}: deployment ${deploymentId} (${shortSha(mergeCommit)}) passed its HTTP checks, but its metric checks could not be judged, so agentbus neither passed nor rolled it back: ${failingSummary(judgment)}`,
          details: { deploymentId, mergeCommit, metrics: judgment.metrics.filter((m) => m.outcome === 'inconclusive').map((m) => m.name) },
          about: [deploymentId, 'metrics'],
        });
        await ctx.publish('escalation.raised', raised.data, { id: raised.id });
      }
      return judgment.outcome;
    });
    const outcome: VerdictOutcome = typeof announced === 'boolean' ? (announced ? 'passed' : 'failed') : announced;
    await deps.evidence.record(service.name, evidenceOf(judgment.report, 'verdict', deploymentId));
    ctx.log.info({ outcome, failing: judgment.report.failedChecks, warned: judgment.report.warnedChecks }, `${service.name} ${shortSha(mergeCommit)}: ${outcome === 'passed' ? 'healthy' : `${outcome} (${failingSummary(judgment)})`}`);
    if (outcome === 'failed') return; // the rollback agent takes the lease over and ends it
    // A good verdict ends the deployment's lease (handed over by the deployer). So does an
    // inconclusive one: its HTTP checks passed, a human is asked, and the follow-ups judge the
    // metrics again later; holding the service until someone answers would stop every deploy.
    // A step of a release gets its guard window as one more follow-up.
    const judged = { deploymentId, correlationId: event.correlationId, mergeCommit, baseline: verdict.baseline, metricBaseline: event.data.metricBaseline, guardMs: event.data.release?.guardMs };
    await ctx.step('schedule-followups', () => scheduleFollowups(ctx, deps.followups, service, judged).then((records) => records.length));
    await deps.leases.releaseIfOwner(service.name, deploymentId);
  };
}
