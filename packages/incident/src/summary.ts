import type { IncidentEvent } from './events.ts';

export const IncidentOutcomes = {
  rolledBack: 'rolled-back',
  rollbackFailed: 'rollback-failed',
  rollbackSkipped: 'rollback-skipped',
  healthy: 'healthy',
  deployFailed: 'deploy-failed',
  planned: 'planned',
  /** The deployment could not be judged at all: a human was told (escalation `inconclusive`). */
  inconclusive: 'inconclusive',
  inProgress: 'in-progress',
} as const;
export type IncidentOutcome = (typeof IncidentOutcomes)[keyof typeof IncidentOutcomes];

/** True when nothing more will happen in the incident without a new message. */
export function isFinalOutcome(outcome: IncidentOutcome): boolean {
  return outcome !== 'in-progress';
}

export interface IncidentSummary {
  incidentId: string;
  service: string | undefined;
  outcome: IncidentOutcome;
  ref: string | undefined;
  requestedBy: string | undefined;
  startedAt: string | undefined;
  endedAt: string | undefined;
  mergeCommit: string | undefined;
  previousCommit: string | undefined;
  revertCommit: string | undefined;
  restoredCommit: string | undefined;
  /** Each from the merge (deploy.merged) unless said otherwise. */
  durations: {
    /** Merge → health.failed. */
    detectedMs: number | undefined;
    /** Merge → the revert verified on the remote. */
    revertedMs: number | undefined;
    /** Merge → healthy again (rollback.completed). */
    healthyMs: number | undefined;
    /** Bad code live → healthy again: deploy.completed → rollback.completed. */
    degradedMs: number | undefined;
    /** Start → last event. */
    totalMs: number | undefined;
    /** Time spent in agentbus itself: total minus the configured waits, probe time-outs and deploy commands. */
    platformMs: number | undefined;
  };
  /** What platformMs leaves out. */
  excluded: { stabilizationMs: number; probeWaitMs: number; probeTimeoutMs: number; deployCommandMs: number; verifyWaitMs: number };
}

const ms = (from: string | undefined, to: string | undefined) => (from && to ? Math.max(0, Date.parse(to) - Date.parse(from)) : undefined);

/**
 * The facts of an incident, from its events alone (the bus is the flight recorder).
 * `requestedAt` (when the deploy task was sent, if known) starts the clock; else the first event.
 */
export function summarizeIncident(incidentId: string, events: readonly IncidentEvent[], options: { requestedAt?: string } = {}): IncidentSummary {
  const sorted = [...events].sort((a, b) => Date.parse(a.time) - Date.parse(b.time) || a.seq - b.seq);
  const findIn = <T extends IncidentEvent['type']>(subject: string | undefined, type: T, where: (e: Extract<IncidentEvent, { type: T }>) => boolean = () => true) =>
    sorted.find((e): e is Extract<IncidentEvent, { type: T }> => {
      if (e.type !== type) return false;
      const deploymentId = (e.data as { deploymentId?: string }).deploymentId;
      return (subject === undefined || deploymentId === undefined || deploymentId === subject) && where(e as Extract<IncidentEvent, { type: T }>);
    });
  // A release's incident holds one deployment per step: its facts are those of the deployment that
  // went wrong first (found failing, rolled back, refused a rollback, failed to deploy), else the first.
  const trouble =
    findIn(undefined, 'health.failed', (e) => e.data.phase === 'post-deploy') ??
    findIn(undefined, 'followup.failed') ??
    findIn(undefined, 'rollback.completed') ??
    findIn(undefined, 'rollback.failed') ??
    findIn(undefined, 'rollback.skipped') ??
    findIn(undefined, 'deploy.failed');
  const subject = trouble?.data.deploymentId;
  const find = <T extends IncidentEvent['type']>(type: T, where?: (e: Extract<IncidentEvent, { type: T }>) => boolean) => findIn(subject, type, where);
  const merged = find('deploy.merged');
  const completed = find('deploy.completed');
  // Found after the deploy, or hours later by a follow-up.
  const failed = find('health.failed', (e) => e.data.phase === 'post-deploy') ?? find('followup.failed');
  const passed = find('health.passed', (e) => e.data.phase === 'post-deploy');
  const reverted = find('rollback.reverted');
  const rolledBack = find('rollback.completed');
  const rollbackFailed = find('rollback.failed');
  const skipped = find('rollback.skipped');
  const deployFailed = find('deploy.failed');
  // A deploy command that failed on pushed code is rolled back next: the incident goes on.
  const deployFailedForGood = deployFailed && !(deployFailed.data.pushed && deployFailed.data.stage === 'deploy-command') ? deployFailed : undefined;
  const planned = find('deploy.planned');
  const inconclusive = !passed && !failed ? find('escalation.raised', (e) => e.data.kind === 'inconclusive') : undefined;
  const outcome: IncidentOutcome = rolledBack
    ? 'rolled-back'
    : rollbackFailed
      ? 'rollback-failed'
      : skipped
        ? 'rollback-skipped'
        : deployFailedForGood
          ? 'deploy-failed'
          : passed
            ? 'healthy'
            : inconclusive
              ? 'inconclusive'
              : planned
                ? 'planned'
                : 'in-progress';
  const decisive = rolledBack ?? rollbackFailed ?? skipped ?? deployFailedForGood ?? passed ?? inconclusive ?? planned;
  const startedAt = options.requestedAt ?? sorted[0]?.time;
  const endedAt = (isFinalOutcome(outcome) ? decisive?.time : undefined) ?? sorted.at(-1)?.time;
  const verdict = (failed?.type === 'health.failed' ? failed : undefined) ?? passed;
  const excluded = {
    stabilizationMs: verdict?.data.stabilizationMs ?? 0,
    probeWaitMs: verdict?.data.probeWaitMs ?? 0,
    probeTimeoutMs: verdict?.data.probeTimeoutMs ?? 0,
    deployCommandMs: (completed?.data.deployCommandMs ?? 0) + (rolledBack?.data.durations.redeployMs ?? 0),
    verifyWaitMs: rolledBack?.data.durations.verifyWaitMs ?? 0,
  };
  const totalMs = ms(startedAt, endedAt);
  const excludedMs = Object.values(excluded).reduce((a, b) => a + b, 0);
  const service = trouble?.data.service ?? sorted.map((e) => (e.data as { service?: string }).service).find(Boolean);
  const first = merged ?? completed;
  return {
    incidentId,
    service,
    outcome,
    ref: merged?.data.ref ?? deployFailed?.data.ref ?? planned?.data.ref,
    requestedBy: merged?.data.requestedBy ?? deployFailed?.data.requestedBy ?? planned?.data.requestedBy,
    startedAt,
    endedAt,
    mergeCommit: merged?.data.mergeCommit ?? deployFailed?.data.mergeCommit,
    previousCommit: merged?.data.previousCommit,
    revertCommit: reverted?.data.revertCommit ?? undefined,
    restoredCommit: rolledBack?.data.restoredCommit ?? reverted?.data.restoredCommit,
    durations: {
      detectedMs: ms(first?.time, failed?.time),
      revertedMs: ms(first?.time, reverted?.time),
      healthyMs: ms(first?.time, rolledBack?.time),
      degradedMs: ms(completed?.time, rolledBack?.time),
      totalMs,
      platformMs: totalMs === undefined ? undefined : Math.max(0, totalMs - excludedMs),
    },
    excluded,
  };
}
