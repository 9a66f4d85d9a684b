import { isSubjectFull, type HandlerContext } from '@agentbus/bus';
import { FollowupStatuses, type AgentbusRegistry, type Baseline, type MetricBaseline } from '@agentbus/contracts';
import type { FleetService } from '@agentbus/fleet';
import type { FollowupRecord, FollowupStore } from '@agentbus/health';

export interface JudgedDeployment {
  deploymentId: string;
  correlationId: string;
  mergeCommit: string;
  baseline: Baseline | null;
  metricBaseline: MetricBaseline | undefined;
  /** The guard window of a release step (0 or absent: none). */
  guardMs?: number | undefined;
}

/**
 * The follow-ups of a deployment: its service's offsets and, for a step of a release, its guard
 * window (the follow-up `guardMs` after the verdict, which the release waits for before its next
 * step; one that falls on an offset is that follow-up).
 */
export function followupOffsets(offsetsMs: readonly number[], guardMs: number | undefined): number[] {
  return [...new Set([...offsetsMs, ...(guardMs ? [guardMs] : [])])].sort((a, b) => a - b);
}

/**
 * Schedules the follow-up checks of a deployment just judged (followupOffsets): one durable timer per
 * offset (AGENT_SCHEDULE, a subject each, so scheduling twice is refused), its record (pending)
 * and followup.scheduled. Run as a ledger step by the caller: a redelivered verdict does not
 * schedule again.
 */
export async function scheduleFollowups(ctx: HandlerContext<AgentbusRegistry>, store: FollowupStore, service: FleetService, deployment: JudgedDeployment): Promise<FollowupRecord[]> {
  const offsets = followupOffsets(service.health.followupOffsetsMs, deployment.guardMs);
  if (offsets.length === 0) return [];
  const scheduledAt = new Date();
  const records: FollowupRecord[] = [];
  for (const [index, offsetMs] of offsets.entries()) {
    const n = index + 1;
    const dueAt = new Date(scheduledAt.getTime() + offsetMs).toISOString();
    const which = { deploymentId: deployment.deploymentId, service: service.name, mergeCommit: deployment.mergeCommit, n, offsetMs, dueAt };
    let timerSeq: number | undefined;
    try {
      const sent = await ctx.publish(
        'schedule.followup',
        { ...which, of: offsets.length, baseline: deployment.baseline, ...(deployment.metricBaseline ? { metricBaseline: deployment.metricBaseline } : {}) },
        { id: `${deployment.deploymentId}.followup.${n}` },
      );
      timerSeq = sent.seq;
    } catch (error) {
      // Scheduled already (an earlier attempt of this step got this far): keep that timer.
      if (!isSubjectFull(error)) throw error;
      const existing = await store.get(service.name, deployment.deploymentId, n);
      if (existing) {
        records.push(existing);
        continue;
      }
    }
    const record: FollowupRecord = { ...which, correlationId: deployment.correlationId, of: offsets.length, scheduledAt: scheduledAt.toISOString(), status: FollowupStatuses.pending, ...(timerSeq ? { timerSeq } : {}) };
    await store.put(record);
    records.push(record);
  }
  await ctx.publish(
    'followup.scheduled',
    { deploymentId: deployment.deploymentId, service: service.name, mergeCommit: deployment.mergeCommit, followups: records.map(({ n, offsetMs, dueAt }) => ({ n, offsetMs, dueAt })) },
    { id: `${deployment.deploymentId}.followups` },
  );
  return records;
}
