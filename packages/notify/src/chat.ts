import type { AgentbusRegistry, AnyEnvelopeOf, CheckResult } from '@agentbus/contracts';
import { summarizeIncident, type IncidentEvent } from '@agentbus/incident';
import { formatDuration, shortSha } from '@agentbus/contracts';
import { truncate } from './format.ts';
import type { EscalationKind } from './pagerduty.ts';

/**
 * Chat tells people about an incident once per update, not once per event. The updates:
 * - deploy.failed: the deploy stopped;
 * - health.passed after a deploy: deployed and verified healthy;
 * - rollback.completed: rolled back and healthy again;
 * - rollback.failed: a person must take over (its escalation says nothing more in chat);
 * - rollback.skipped: the platform will not roll back on its own (its escalation likewise),
 *   except `already-rolled-back`, a repeat of an incident its rollback already closed;
 * - escalation.raised of the kinds no rollback event tells (lease-conflict, chain-break,
 *   prolonged-unhealthy);
 * - escalation.resolved;
 * - release.completed: how a staged release ended (each step's own verdicts and rollbacks are told
 *   as above, each about its own deployment).
 * Everything else (tasks, deploy.merged, deploy.completed, health.failed, rollback.started,
 * rollback.reverted, deliveries…) is a step inside an update and sends nothing.
 */

type AnyEvent = AnyEnvelopeOf<AgentbusRegistry>;

export type ChatTone = 'ok' | 'warning' | 'critical' | 'info';

export interface ChatField {
  label: string;
  value: string;
}

/** One chat message before it is put in Slack's or Discord's shape. */
export interface ChatUpdate {
  incidentId: string;
  /** The event this update is about. */
  eventId: string;
  service: string | null;
  tone: ChatTone;
  title: string;
  text: string;
  fields: ChatField[];
  time: string;
}

/** Escalations whose chat message is the rollback event that raised them. */
const toldByRollbackEvent: ReadonlySet<EscalationKind> = new Set<EscalationKind>(['unattributed-failure', 'rollback-failed']);

const escalationTitles: Record<EscalationKind, string> = {
  'unattributed-failure': 'a failure agentbus cannot attribute',
  'rollback-failed': 'a rollback failed',
  'lease-conflict': 'two agents claim the service',
  'chain-break': 'a state history does not verify',
  'prolonged-unhealthy': 'unhealthy for too long',
  inconclusive: 'a deployment could not be judged',
  'release-triage': 'a release needs triage',
  watchdog: 'something fails silently (the bus watchdog)',
  drift: 'production changed outside agentbus',
};

/** True when `event` is an incident update people are told about in chat. */
export function isChatUpdate(event: AnyEvent): boolean {
  switch (event.type) {
    case 'deploy.failed':
    case 'rollback.completed':
    case 'rollback.failed':
    case 'escalation.resolved':
    case 'release.completed':
      return true;
    case 'health.passed':
      return event.data.phase === 'post-deploy';
    case 'rollback.skipped':
      return event.data.reason !== 'already-rolled-back';
    case 'escalation.raised':
      return !toldByRollbackEvent.has(event.data.kind);
    default:
      return false;
  }
}

/** What the rest of the incident says about the change, for the update's wording. */
interface IncidentContext {
  ref: string | undefined;
  requestedBy: string | undefined;
  mergedAt: string | undefined;
  detectedMs: number | undefined;
  degradedMs: number | undefined;
  failingChecks: CheckResult[];
}

function contextOf(event: AnyEvent, incident: readonly IncidentEvent[]): IncidentContext {
  // A release's incident holds one deployment per step: an update about one is told from its own events.
  const deploymentId = (event.data as { deploymentId?: string }).deploymentId;
  const ofThisDeployment = (e: IncidentEvent) => deploymentId === undefined || (e.data as { deploymentId?: string }).deploymentId === undefined || (e.data as { deploymentId?: string }).deploymentId === deploymentId;
  const others = incident.filter((e) => e.id !== event.id && ofThisDeployment(e));
  const seq = others.reduce((max, e) => Math.max(max, e.seq), 0) + 1;
  const events = [...others, { ...event, seq } as IncidentEvent];
  const summary = summarizeIncident(event.correlationId, events);
  const merged = others.find((e) => e.type === 'deploy.merged');
  const failed = others.find((e): e is Extract<IncidentEvent, { type: 'health.failed' }> => e.type === 'health.failed' && e.data.phase === 'post-deploy');
  return {
    ref: summary.ref,
    requestedBy: summary.requestedBy,
    mergedAt: merged?.time,
    detectedMs: summary.durations.detectedMs,
    degradedMs: summary.durations.degradedMs,
    failingChecks: failed ? failed.data.checks.filter((c) => !c.ok && c.severity === 'fatal') : [],
  };
}

const fields = (...entries: Array<[string, string | number | null | undefined]>): ChatField[] =>
  entries.filter((entry): entry is [string, string | number] => entry[1] !== undefined && entry[1] !== null && entry[1] !== '').map(([label, value]) => ({ label, value: String(value) }));

const code = (text: string | null | undefined) => (text ? `\`${text}\`` : undefined);
const sha = (commit: string | null | undefined) => (commit ? code(shortSha(commit)) : undefined);
const duration = (ms: number | undefined) => (ms === undefined ? undefined : formatDuration(ms));
const checkFailure = (c: CheckResult) => `${c.name} ${c.url}: ${c.error ?? 'failed'}`;
const checkState = (c: CheckResult) => `${c.name} ${c.ok ? 'ok' : `failing (${c.error ?? 'failed'})`}${c.latencyP95Ms !== null ? `, p95 ${Math.round(c.latencyP95Ms)} ms` : ''}`;

/**
 * The chat message for an update, from the update event and the incident's other events (its
 * correlationId's, as stored before it): a pure function, the same events always give the same
 * message. Null when the event is not an update (isChatUpdate).
 */
export function chatUpdateOf(event: AnyEvent, incident: readonly IncidentEvent[]): ChatUpdate | null {
  if (!isChatUpdate(event)) return null;
  const context = contextOf(event, incident);
  const base = { incidentId: event.correlationId, eventId: event.id, time: event.time };
  switch (event.type) {
    case 'deploy.failed': {
      const d = event.data;
      return {
        ...base,
        service: d.service,
        tone: 'critical',
        title: `${d.service}: deploy of ${d.ref} failed at ${d.stage}`,
        text: `${truncate(d.error, 600)}\n${d.pushed ? 'The merge commit reached the remote branch.' : 'Nothing reached the remote branch.'}`,
        fields: fields(['Ref', code(d.ref)], ['Stage', d.stage], ['Merge commit', sha(d.mergeCommit)], ['Exit code', d.exitCode], ['Requested by', d.requestedBy]),
      };
    }
    case 'health.passed': {
      const d = event.data;
      const warnings = d.checks.filter((c) => !c.ok);
      const verifiedMs = context.mergedAt ? Date.parse(event.time) - Date.parse(context.mergedAt) : undefined;
      return {
        ...base,
        service: d.service,
        tone: 'ok',
        title: `${d.service}: ${context.ref ?? (d.mergeCommit ? shortSha(d.mergeCommit) : 'deployment')} deployed and healthy`,
        text: `Every fatal check passed after the ${formatDuration(d.stabilizationMs)} stabilization window.${warnings.length ? ` Warnings: ${truncate(warnings.map(checkFailure).join('; '), 1500)}.` : ''}`,
        fields: fields(
          ['Ref', code(context.ref)],
          ['Merge commit', sha(d.mergeCommit)],
          ['Requested by', context.requestedBy],
          ['Checks', truncate(d.checks.map(checkState).join('; '), 1000)],
          ['Merge → verified healthy', duration(verifiedMs)],
        ),
      };
    }
    case 'rollback.completed': {
      const d = event.data;
      const why = context.failingChecks.length ? `Health checks failed after the deploy (${truncate(context.failingChecks.map(checkFailure).join('; '), 1000)}). ` : '';
      const how = d.strategy === 'git-revert' && d.revertCommit ? `agentbus reverted the merge (${shortSha(d.revertCommit)})` : `agentbus switched back to the previous version (${shortSha(d.restoredCommit)})`;
      return {
        ...base,
        service: d.service,
        tone: 'warning',
        title: `${d.service}: rolled back ${context.ref ?? shortSha(d.mergeCommit)}; healthy again`,
        text: truncate(`${why}${how}, redeployed and verified the service healthy. Nothing to do now; a post-mortem follows.`, 1500),
        fields: fields(
          ['Ref', code(context.ref)],
          ['Merge commit', sha(d.mergeCommit)],
          ['Revert commit', sha(d.revertCommit)],
          ['Running now', sha(d.restoredCommit)],
          ['Strategy', d.strategy],
          ['Time to detect', duration(context.detectedMs)],
          ['Time to roll back', duration(d.durations.totalMs)],
          ['Time degraded', duration(context.degradedMs)],
          ['Requested by', context.requestedBy],
        ),
      };
    }
    case 'rollback.failed': {
      const d = event.data;
      return {
        ...base,
        service: d.service,
        tone: 'critical',
        title: `${d.service}: rollback of ${context.ref ?? shortSha(d.mergeCommit)} failed at ${d.stage}`,
        text: `${truncate(d.error, 600)}\nA person must take over: the service may still run the deployment that failed its checks.`,
        fields: fields(['Ref', code(context.ref)], ['Merge commit', sha(d.mergeCommit)], ['Revert commit', sha(d.revertCommit)], ['Strategy', d.strategy], ['Stage', d.stage]),
      };
    }
    case 'rollback.skipped': {
      const d = event.data;
      return {
        ...base,
        service: d.service,
        tone: 'critical',
        title: `${d.service}: not rolled back (${d.reason})`,
        text: `${truncate(d.detail, 600)}\nagentbus does not decide this alone.`,
        fields: fields(
          ['Ref', code(context.ref)],
          ['Merge commit', sha(d.mergeCommit)],
          ['Failing checks', context.failingChecks.length ? truncate(context.failingChecks.map(checkFailure).join('; '), 1000) : undefined],
          ['Reason', d.reason],
        ),
      };
    }
    case 'escalation.raised': {
      const d = event.data;
      const details = Object.entries(d.details)
        .filter((entry): entry is [string, string | number | boolean] => ['string', 'number', 'boolean'].includes(typeof entry[1]))
        .slice(0, 6)
        .map(([label, value]): [string, string] => [label, truncate(String(value), 200)]);
      return {
        ...base,
        service: d.service ?? null,
        tone: d.severity === 'critical' || d.severity === 'error' ? 'critical' : d.severity,
        title: `${d.service ?? 'agentbus'}: ${escalationTitles[d.kind]}; a human must decide`,
        text: d.summary,
        fields: fields(['Kind', d.kind], ['Severity', d.severity], ...details),
      };
    }
    case 'escalation.resolved': {
      const d = event.data;
      return {
        ...base,
        service: d.service ?? null,
        tone: 'ok',
        title: `${d.service ?? 'agentbus'}: escalation resolved`,
        text: d.summary,
        fields: fields(['Dedup key', code(d.dedupKey)]),
      };
    }
    case 'release.completed': {
      const d = event.data;
      const started = incident.find((e): e is Extract<IncidentEvent, { type: 'release.started' }> => e.type === 'release.started');
      const tone: ChatTone = d.status === 'healthy' ? 'ok' : d.status === 'rolled-back' || d.status === 'aborted' ? 'warning' : 'critical';
      const ask = d.status === 'triage' || d.status === 'failed' ? '\nA person must look: agentbus does not decide this alone.' : '';
      return {
        ...base,
        service: null,
        tone,
        title: `release of ${d.steps.map((s) => s.service).join(', ')}: ${d.status}`,
        text: truncate(`${d.detail}${ask}`, 1500),
        fields: fields(['Release', code(d.releaseId)], ['Steps', d.steps.map((s) => `${s.n}. ${s.service} ${s.ref}: ${s.status}`).join('; ')], ['Rollback scope', started?.data.rollbackScope], ['Requested by', started?.data.requestedBy]),
      };
    }
    default:
      return null;
  }
}
