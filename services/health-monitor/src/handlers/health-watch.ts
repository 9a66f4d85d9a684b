import { describeError, escalation, formatDuration, type AgentbusRegistry } from '@agentbus/contracts';
import type { Handler, HandlerContext } from '@agentbus/bus';
import type { FleetService } from '@agentbus/fleet';
import { evidenceOf, probeBaseline, type Evidence, type HealthEvidenceStore } from '@agentbus/health';

export interface WatchDeps {
  fleet: { services: readonly FleetService[] };
  evidence: HealthEvidenceStore;
  /** Between rounds; 0: one round, then the timer ends (until the next health monitor starts). */
  intervalMs: number;
  /** Unhealthy for longer than this: page a human (prolonged-unhealthy). */
  unhealthyAfterMs: number;
}

/**
 * schedule.health-watch, the between-deploy watch: every service is probed (two probes, 100 ms
 * apart) and the sample is recorded as `watch` evidence, the baseline of the next deployment.
 * Then the timer is rescheduled for the next round. It is one message, so one health monitor at
 * a time probes, however many run; when that one dies the next takes it after the ack wait.
 *
 * The same round notices outages, kept in the shared evidence store (never in one instance's
 * memory, so its start, and with it the escalation's dedup key and ids, are the same whichever
 * instance probes): a service unhealthy for longer than `unhealthyAfterMs` raises one
 * prolonged-unhealthy escalation per outage, and the end of any outage is announced as
 * health.recovered, which resolves the pages about that service.
 */
export function healthWatchHandler(deps: WatchDeps): Handler<AgentbusRegistry, 'schedule.health-watch'> {
  return async (_timer, ctx) => {
    await Promise.all(deps.fleet.services.map((service) => watchService(service, deps, ctx)));
    if (deps.intervalMs > 0) ctx.redeliverIn(deps.intervalMs);
  };
}

async function watchService(service: FleetService, deps: WatchDeps, ctx: HandlerContext<AgentbusRegistry>): Promise<void> {
  try {
    const sample = evidenceOf(await probeBaseline(service.health.checks, { probes: 2, intervalMs: 100, signal: ctx.signal }).then((b) => b.report), 'watch');
    await deps.evidence.record(service.name, sample);
    if (!sample.healthy) ctx.log.warn({ service: service.name, failing: sample.checks.filter((c) => !c.ok).map((c) => c.name) }, `${service.name} is unhealthy`);
    await trackOutage(service.name, sample, deps, ctx);
  } catch (error) {
    ctx.log.error({ service: service.name, err: describeError(error) }, `could not watch ${service.name}`);
  }
}

/** One watch sample's part in the service's outage: start it, escalate it once past `unhealthyAfterMs`, or end it (health.recovered). */
export async function trackOutage(service: string, sample: Evidence, deps: Pick<WatchDeps, 'evidence' | 'unhealthyAfterMs'>, ctx: HandlerContext<AgentbusRegistry>): Promise<void> {
  const outage = await deps.evidence.outage(service);
  if (!sample.healthy) {
    // A copy: `escalated` set below must differ from the stored outage for the change to be written.
    const current = outage ? { ...outage } : { since: sample.checkedAt, incidentId: `outage-${service}-${Date.parse(sample.checkedAt)}`, escalated: false };
    const lasted = Date.now() - Date.parse(current.since);
    if (!current.escalated && lasted >= deps.unhealthyAfterMs) {
      const failing = sample.checks.filter((c) => !c.ok && c.severity === 'fatal');
      const started = Date.parse(current.since);
      const raised = escalation({
        kind: 'prolonged-unhealthy',
        severity: 'critical',
        service,
        summary: `${service} has been unhealthy for ${formatDuration(lasted)} (since ${current.since}): ${failing.map((c) => `${c.name}: ${c.error ?? 'failed'}`).join('; ')}`,
        details: { since: current.since, unhealthyMs: lasted, thresholdMs: deps.unhealthyAfterMs, failingChecks: failing.map((c) => c.name) },
        about: [service, started],
      });
      await ctx.publish('escalation.raised', raised.data, { correlationId: current.incidentId, id: raised.id });
      current.escalated = true;
    }
    if (!outage || current.escalated !== outage.escalated) await deps.evidence.setOutage(service, current);
    return;
  }
  if (!outage) return;
  const recoveredAt = sample.checkedAt;
  await ctx.publish(
    'health.recovered',
    { service, unhealthySince: outage.since, recoveredAt, unhealthyMs: Math.max(0, Date.parse(recoveredAt) - Date.parse(outage.since)) },
    { correlationId: outage.incidentId, id: `health.recovered.${service}.${Date.parse(outage.since)}` },
  );
  await deps.evidence.setOutage(service, undefined);
  ctx.log.info({ service, since: outage.since }, `${service} is healthy again`);
}
