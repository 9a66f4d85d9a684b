import { escalation, followupLabel, FollowupStatuses, releaseManifestPath, releaseManifestSchema, shortSha, type AgentbusRegistry, type ReleaseManifest } from '@agentbus/contracts';
import type { Handler } from '@agentbus/bus';
import { failingSummary, judgeService, type FleetService } from '@agentbus/fleet';
import { cancelPendingFollowups, type FollowupRecord, type FollowupStore, type PrometheusSection } from '@agentbus/health';
import { isStateIntegrityError, isStateNotFound, refusedReadEscalation, refusedVersionOf, type RefusedVersion, type StateStore } from '@agentbus/state';

export interface FollowupDeps {
  fleet: { services: readonly FleetService[]; prometheus?: PrometheusSection | undefined };
  state: StateStore;
  followups: FollowupStore;
}

/**
 * schedule.followup, one follow-up check of a deployment. Until it is due the timer is handed
 * back to the server with the time left (nak with a delay: the server keeps it across restarts,
 * and after a NATS restart it may come back up to a second early, so it is checked again). When
 * due:
 * - done already (a redelivery after its verdict) or cancelled: nothing;
 * - its deployment is no longer the latest of its service (release manifest), or was rolled back:
 *   cancelled, with the deployment's other pending follow-ups;
 * - else the service's HTTP and metric checks are judged against the deployment's baselines from
 *   before its merge, and followup.passed, followup.failed (the rollback agent acts on it) or
 *   followup.inconclusive (with an escalation) is announced once (a ledger step).
 */
export function followupHandler(deps: FollowupDeps): Handler<AgentbusRegistry, 'schedule.followup'> {
  return async (timer, ctx) => {
    const t = timer.data;
    const left = Date.parse(t.dueAt) - Date.now();
    if (left > 0) {
      ctx.log.debug({ dueAt: t.dueAt, leftMs: left }, `follow-up ${t.n} of ${t.deploymentId} not due yet`);
      ctx.redeliverIn(left);
      return;
    }
    const label = followupLabel(t.offsetMs);
    const stored = await deps.followups.get(t.service, t.deploymentId, t.n);
    const record: FollowupRecord = stored ?? {
      service: t.service,
      deploymentId: t.deploymentId,
      correlationId: timer.correlationId,
      mergeCommit: t.mergeCommit,
      n: t.n,
      of: t.of,
      offsetMs: t.offsetMs,
      dueAt: t.dueAt,
      scheduledAt: timer.time,
      status: FollowupStatuses.pending,
    };
    if (record.status !== FollowupStatuses.pending) {
      ctx.log.info({ status: record.status }, `the ${label} follow-up of ${t.deploymentId} is ${record.status} already`);
      return;
    }
    if (!stored) await deps.followups.put(record); // its record was lost: cancelling and listing need one

    const current = await currentDeployment(deps.state, t.service);
    if (current && 'tampered' in current) {
      // What runs cannot be told from a manifest that fails verification: nothing is judged or acted
      // on, and a human is asked (the chain-break escalation, as `agentbus state verify` raises it).
      const { path, number, message } = current.tampered;
      const detail = `${message}; agentbus judges nothing on it`;
      await cancelPendingFollowups(deps.followups, ctx, { service: t.service, deploymentId: t.deploymentId }, { reason: 'tampered-state', detail });
      const raised = refusedReadEscalation(current.tampered, { service: t.service, summary: `${t.service}: the ${label} follow-up of ${t.deploymentId} was not run: ${detail}`, details: { deploymentId: t.deploymentId } });
      await ctx.publish('escalation.raised', raised.data, { id: raised.id });
      ctx.log.error({ path, number }, `the ${label} follow-up of ${t.deploymentId} was not run: ${detail}`);
      return;
    }
    const decision = whyObsolete(deps.fleet.services.find((candidate) => candidate.name === t.service), current, t);
    if ('obsolete' in decision) {
      const how = decision.obsolete;
      await cancelPendingFollowups(deps.followups, ctx, { service: t.service, deploymentId: t.deploymentId }, how);
      ctx.log.info({ reason: how.reason }, `the ${label} follow-up of ${t.deploymentId} is obsolete: ${how.detail}`);
      return;
    }
    const { service } = decision;

    const firedAt = new Date().toISOString();
    const judgment = await judgeService(service, deps.fleet.prometheus, { baseline: t.baseline, metricBaseline: t.metricBaseline }, { startedAt: firedAt, signal: ctx.signal });
    const which = { deploymentId: t.deploymentId, service: t.service, mergeCommit: t.mergeCommit, n: t.n, offsetMs: t.offsetMs, dueAt: t.dueAt };
    const result = { ...which, ...judgment.fields, firedAt };
    const id = `${t.deploymentId}.followup.${t.n}.result`;
    const outcome = await ctx.step('announce', async () => {
      if (judgment.outcome === 'passed') await ctx.publish('followup.passed', result, { id });
      else if (judgment.outcome === 'failed') await ctx.publish('followup.failed', result, { id });
      else {
        await ctx.publish('followup.inconclusive', result, { id });
        const raised = escalation({
          kind: 'inconclusive',
          severity: 'critical',
          service: t.service,
          summary: `${t.service}: the ${label} follow-up of deployment ${t.deploymentId} (${shortSha(t.mergeCommit)}) could not judge its metric checks: ${failingSummary(judgment)}`,
          details: { deploymentId: t.deploymentId, followup: t.n, metrics: judgment.metrics.filter((m) => m.outcome === 'inconclusive').map((m) => m.name) },
          about: [t.deploymentId, `followup-${t.n}`],
        });
        await ctx.publish('escalation.raised', raised.data, { id: raised.id });
      }
      return judgment.outcome;
    });
    const detail = outcome === 'passed' ? 'every fatal check passed' : failingSummary(judgment);
    await deps.followups.put({ ...record, status: outcome, firedAt, finishedAt: judgment.fields.finishedAt, detail });
    ctx.log.info({ outcome, lateMs: Date.parse(firedAt) - Date.parse(t.dueAt) }, `the ${label} follow-up of ${t.service} ${shortSha(t.mergeCommit)}: ${outcome}${outcome === 'passed' ? '' : ` (${detail})`}`);
  };
}

type Obsolete = { reason: 'superseded' | 'rolled-back' | 'tampered-state'; detail: string; supersededBy?: string };

/** Why a follow-up due now would judge code that no longer runs, or the service to judge when its deployment is still the latest. */
function whyObsolete(service: FleetService | undefined, current: ReleaseManifest | undefined, t: { service: string; deploymentId: string }): { obsolete: Obsolete } | { service: FleetService } {
  if (!service) return { obsolete: { reason: 'superseded', detail: `${t.service} is no longer in the service registry` } };
  if (!current) return { obsolete: { reason: 'superseded', detail: `${t.service} has no release manifest: agentbus cannot tell what runs` } };
  if (current.deploymentId !== t.deploymentId) return { obsolete: { reason: 'superseded', supersededBy: current.deploymentId, detail: `deployment ${current.deploymentId} (${shortSha(current.commit)}) of ${t.service} came after it` } };
  if (current.status === 'rolled-back') return { obsolete: { reason: 'rolled-back', detail: `deployment ${t.deploymentId} was rolled back at ${current.rolledBackAt ?? 'an earlier time'}` } };
  return { service };
}

/** The service's release manifest (undefined: none), or why it cannot be trusted. */
async function currentDeployment(state: StateStore, service: string): Promise<ReleaseManifest | { tampered: RefusedVersion } | undefined> {
  try {
    return releaseManifestSchema.parse((await state.getVerified(releaseManifestPath(service))).data);
  } catch (error) {
    if (isStateNotFound(error)) return undefined;
    if (isStateIntegrityError(error)) return { tampered: refusedVersionOf(error) };
    throw error;
  }
}
