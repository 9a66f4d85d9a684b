import { setTimeout as sleep } from 'node:timers/promises';
import { describeError, escalation, shortSha, type AgentbusRegistry, type Baseline } from '@agentbus/contracts';
import { willBeRetried, type Handler, type LeaseManager } from '@agentbus/bus';
import { findService, type FleetService } from '@agentbus/fleet';
import { evidenceOf, runProbes, toCheckResults, type HealthEvidenceStore } from '@agentbus/health';

/**
 * deploy.completed: wait the service's stabilization window, probe its checks, and announce
 * health.passed or health.failed with every check's status, p95 latency and error, and the
 * baseline (the service's health just before the deploy).
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
export function deployCompletedHandler(deps: { fleet: { services: readonly FleetService[] }; evidence: HealthEvidenceStore; leases: LeaseManager }): Handler<AgentbusRegistry, 'deploy.completed'> {
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

function judgeDeployment(deps: { fleet: { services: readonly FleetService[] }; evidence: HealthEvidenceStore; leases: LeaseManager }): Handler<AgentbusRegistry, 'deploy.completed'> {
  return async (event, ctx) => {
    const { deploymentId, mergeCommit } = event.data;
    const service = findService(deps.fleet, event.data.service);
    const { health } = service;
    const baseline: Baseline | null =
      event.data.baseline !== undefined ? event.data.baseline : ((await deps.evidence.latest(service.name, { finishedBy: Date.parse(event.data.mergedAt) })) ?? null);
    const startedAt = new Date().toISOString();
    if (health.stabilizationMs > 0) {
      ctx.log.info({ stabilizationMs: health.stabilizationMs }, `${service.name}: stabilization wait before probing`);
      await sleep(health.stabilizationMs, undefined, { signal: ctx.signal });
    }
    const report = await runProbes(health.checks, { probes: health.probes, intervalMs: health.probeIntervalMs, consecutiveFailures: Math.min(health.consecutiveFailures, health.probes), signal: ctx.signal });
    const verdict = {
      deploymentId,
      service: service.name,
      phase: 'post-deploy' as const,
      mergeCommit,
      baseline: baseline
        ? { healthy: baseline.healthy, checkedAt: baseline.checkedAt, checks: baseline.checks, ...(baseline.source ? { source: baseline.source } : {}), ...(baseline.deploymentId ? { deploymentId: baseline.deploymentId } : {}) }
        : null,
      checks: toCheckResults(report),
      stabilizationMs: health.stabilizationMs,
      startedAt,
      finishedAt: new Date().toISOString(),
      probeTimeoutMs: report.timing.timedOutMs,
      probeWaitMs: report.timing.waitedMs,
    };
    await ctx.step('announce-verdict', async () => {
      if (report.healthy) await ctx.publish('health.passed', verdict, { id: `${deploymentId}.health` });
      else await ctx.publish('health.failed', verdict, { id: `${deploymentId}.health` });
      return report.healthy;
    });
    await deps.evidence.record(service.name, evidenceOf(report, 'verdict', deploymentId));
    ctx.log.info({ healthy: report.healthy, failing: report.failedChecks, warned: report.warnedChecks }, `${service.name} ${shortSha(mergeCommit)}: ${report.healthy ? 'healthy' : `unhealthy (${report.failedChecks.join(', ')})`}`);
    // The deployment's lease (handed over by the deployer) ends with a good verdict; after a bad
    // one the rollback agent takes it over and ends it.
    if (report.healthy) await deps.leases.releaseIfOwner(service.name, deploymentId);
  };
}
