import { followupLabel, shortSha, type MetricResult } from '@agentbus/contracts';
import type { IncidentEvent } from './events.ts';
import type { TimelineRow } from './postmortem-schema.ts';

/** What happened, in words, from the event's own data. */
export function describeEvent(event: IncidentEvent): string {
  switch (event.type) {
    case 'task.started':
      return `${event.data.agent} took ${event.data.taskType}${event.data.attempt > 1 ? ` (attempt ${event.data.attempt})` : ''}`;
    case 'task.completed':
      return `${event.data.agent} finished ${event.data.taskType} in ${Math.round(event.data.durationMs)} ms`;
    case 'task.failed':
      return `${event.data.agent} failed ${event.data.taskType}: ${event.data.error.message}${event.data.willRetry ? ' (will retry)' : ' (dead-lettered)'}`;
    case 'deployer.deploy':
      return `deploy of ${event.data.ref} to ${event.data.service} requested by ${event.data.requestedBy}`;
    case 'deploy.planned':
      return `dry run for ${event.data.service} ${event.data.ref}: ${event.data.steps.length} steps, nothing changed`;
    case 'deploy.merged':
      return `merged ${event.data.ref} into ${event.data.branch} as ${shortSha(event.data.mergeCommit)}; remote verified at ${shortSha(event.data.mergeCommit)}`;
    case 'deploy.completed':
      return `deployed ${event.data.service} ${shortSha(event.data.mergeCommit)} (deploy command ${Math.round(event.data.deployCommandMs)} ms)`;
    case 'deploy.failed':
      return `deploy of ${event.data.ref} to ${event.data.service} failed at ${event.data.stage}: ${event.data.error}`;
    case 'health.passed':
      return `${event.data.service} healthy after ${event.data.phase === 'post-deploy' ? 'the deploy' : 'the rollback'} (${event.data.checks.map((c) => `${c.name} ${c.lastStatus ?? '-'}`).join(', ')})`;
    case 'health.failed':
      return `${event.data.service} health check failed: ${failures(event.data)}`;
    case 'health.inconclusive':
      return `${event.data.service} could not be judged: ${metricsNot(event.data.metrics, 'inconclusive')}`;
    case 'followup.scheduled':
      return `follow-up checks scheduled at ${event.data.followups.map((f) => followupLabel(f.offsetMs)).join(', ')}`;
    case 'followup.passed':
      return `the ${followupLabel(event.data.offsetMs)} follow-up found ${event.data.service} healthy`;
    case 'followup.failed':
      return `the ${followupLabel(event.data.offsetMs)} follow-up found ${event.data.service} failing: ${failures(event.data)}`;
    case 'followup.inconclusive':
      return `the ${followupLabel(event.data.offsetMs)} follow-up could not judge ${event.data.service}: ${metricsNot(event.data.metrics, 'inconclusive')}`;
    case 'followup.cancelled':
      return `the ${followupLabel(event.data.offsetMs)} follow-up was cancelled (${event.data.reason}): ${event.data.detail}`;
    case 'rollback.started':
      return `rollback of ${shortSha(event.data.mergeCommit)} started (${event.data.strategy})`;
    case 'rollback.reverted':
      return event.data.revertCommit
        ? `git revert -m 1 ${shortSha(event.data.mergeCommit)} → ${shortSha(event.data.revertCommit)}; pushed, remote verified`
        : `switched to the last good commit ${shortSha(event.data.restoredCommit)}`;
    case 'rollback.completed':
      return `${event.data.service} redeployed at ${shortSha(event.data.restoredCommit)} and healthy again`;
    case 'rollback.failed':
      return `rollback of ${shortSha(event.data.mergeCommit)} failed at ${event.data.stage}: ${event.data.error}`;
    case 'rollback.skipped':
      return `no rollback (${event.data.reason}): ${event.data.detail}`;
    case 'release.started':
      return `release of ${event.data.steps.map((s) => `${s.service} ${s.ref}`).join(', ')} started (rollback scope ${event.data.rollbackScope})`;
    case 'release.planned':
      return `dry run of a ${event.data.steps.length}-step release: nothing changed`;
    case 'release.step-started':
      return `step ${event.data.n}/${event.data.of}: promoting ${event.data.service} ${event.data.ref}`;
    case 'release.step-passed':
      return `step ${event.data.n}/${event.data.of}: ${event.data.service} passed its verdict${event.data.guardMs > 0 ? ` and its ${followupLabel(event.data.guardMs)} guard window` : ''}`;
    case 'release.checked':
      return `final check ${event.data.outcome}: ${event.data.services.map((s) => `${s.service} ${s.outcome}${s.detail ? ` (${s.detail})` : ''}`).join(', ')}`;
    case 'release.abort-requested':
      return `abort requested by ${event.data.requestedBy}${event.data.rollback ? ', with rollback' : ''}`;
    case 'release.completed':
      return `release ${event.data.status}: ${event.data.detail}`;
    case 'escalation.raised':
      return `escalated to a human (${event.data.kind}, ${event.data.severity}): ${event.data.summary}`;
    case 'escalation.resolved':
      return `escalation resolved: ${event.data.summary}`;
    default:
      return (event as { type: string }).type;
  }
}

/** The fatal HTTP checks and metric checks that failed, with why. */
function failures(data: { checks: ReadonlyArray<{ ok: boolean; severity: string; name: string; url: string; error: string | null }>; metrics: readonly MetricResult[] }): string {
  const http = data.checks.filter((c) => !c.ok && c.severity === 'fatal').map((c) => `${c.name} ${c.url}: ${c.error ?? 'failed'}`);
  const metrics = metricsNot(data.metrics, 'failed');
  return [...http, ...(metrics ? [metrics] : [])].join('; ');
}

function metricsNot(metrics: readonly MetricResult[], outcome: 'failed' | 'inconclusive'): string {
  return metrics
    .filter((m) => m.severity === 'fatal' && m.outcome === outcome)
    .map((m) => m.reason ?? `${m.name}: ${outcome}`) // a reason names its check
    .join('; ');
}

export function timelineOf(events: readonly IncidentEvent[]): TimelineRow[] {
  const sorted = [...events].sort((a, b) => Date.parse(a.time) - Date.parse(b.time) || a.seq - b.seq);
  const first = sorted[0] ? Date.parse(sorted[0].time) : 0;
  return sorted.map((event) => ({ time: event.time, offsetMs: Date.parse(event.time) - first, event: describeEvent(event), actor: event.source, type: event.type }));
}
