import { followupLabel, shortSha } from '@agentbus/contracts';
import type { IncidentEvent } from '@agentbus/incident';

/**
 * Where a release stands, read from its events alone (every event of the release carries its id
 * as correlationId): the release agent decides from these after a restart exactly as it did
 * before it, and nothing it decided is kept anywhere else.
 */

export interface PlannedStep {
  n: number;
  service: string;
  ref: string;
  guardMs: number;
  deploymentId: string;
}

/** How one step stands. `waiting` until one of the others; `promoted` says its code is live. */
export type StepOutcome =
  | { kind: 'waiting'; promoted: boolean; mergeCommit?: string; previousCommit?: string }
  /** Its verdict passed, and its guard window's check (if it has one). */
  | { kind: 'passed'; mergeCommit: string; previousCommit: string }
  /** Its failure was attributed to it and it was rolled back, healthy again. */
  | { kind: 'rolled-back'; revertCommit: string | null; mergeCommit?: string; detail: string }
  /** Its deploy failed with nothing live to undo, or its rollback failed: a human must look. */
  | { kind: 'failed'; promoted: boolean; mergeCommit?: string; detail: string }
  /** It could not be judged, or its failure was not attributed to it: nothing is reverted, a human decides. */
  | { kind: 'triage'; promoted: boolean; mergeCommit?: string; detail: string };

type Of<T extends IncidentEvent['type']> = Extract<IncidentEvent, { type: T }>;

function findOf<T extends IncidentEvent['type']>(events: readonly IncidentEvent[], type: T, deploymentId: string, where: (event: Of<T>) => boolean = () => true): Of<T> | undefined {
  return events.find((event): event is Of<T> => event.type === type && (event.data as { deploymentId?: string }).deploymentId === deploymentId && where(event as Of<T>));
}

/** How a rollback of `deploymentId` ended, if it has. */
export function rollbackOutcome(events: readonly IncidentEvent[], deploymentId: string): Extract<StepOutcome, { kind: 'rolled-back' | 'failed' | 'triage' }> | undefined {
  const completed = findOf(events, 'rollback.completed', deploymentId);
  if (completed) return { kind: 'rolled-back', revertCommit: completed.data.revertCommit, mergeCommit: completed.data.mergeCommit, detail: `rolled back (${completed.data.revertCommit ? `revert ${shortSha(completed.data.revertCommit)}` : `redeployed ${shortSha(completed.data.restoredCommit)}`})` };
  const failed = findOf(events, 'rollback.failed', deploymentId);
  if (failed) return { kind: 'failed', promoted: true, mergeCommit: failed.data.mergeCommit, detail: `its rollback failed at ${failed.data.stage}: ${failed.data.error}` };
  const skipped = findOf(events, 'rollback.skipped', deploymentId);
  if (skipped?.data.reason === 'already-rolled-back') return { kind: 'rolled-back', revertCommit: null, ...(skipped.data.mergeCommit ? { mergeCommit: skipped.data.mergeCommit } : {}), detail: `rolled back already: ${skipped.data.detail}` };
  if (skipped) return { kind: 'triage', promoted: true, ...(skipped.data.mergeCommit ? { mergeCommit: skipped.data.mergeCommit } : {}), detail: `not rolled back (${skipped.data.reason}): ${skipped.data.detail}` };
  return undefined;
}

/** The step's fate so far: its deploy, its verdict, its guard window, and a rollback of it. */
export function stepOutcome(events: readonly IncidentEvent[], step: PlannedStep): StepOutcome {
  const { deploymentId } = step;
  const rollback = rollbackOutcome(events, deploymentId);
  if (rollback) return rollback;
  const completed = findOf(events, 'deploy.completed', deploymentId);
  const merged = findOf(events, 'deploy.merged', deploymentId);
  const commits = completed ? { mergeCommit: completed.data.mergeCommit, previousCommit: completed.data.previousCommit } : merged ? { mergeCommit: merged.data.mergeCommit, previousCommit: merged.data.previousCommit } : {};
  const promoted = completed !== undefined;
  const waiting: StepOutcome = { kind: 'waiting', promoted, ...commits };

  const deployFailed = findOf(events, 'deploy.failed', deploymentId);
  if (deployFailed) {
    // A deploy command that failed on pushed code is the rollback agent's: wait for its rollback.
    if (deployFailed.data.pushed && deployFailed.data.stage === 'deploy-command') return waiting;
    return { kind: 'failed', promoted: deployFailed.data.pushed, ...commits, detail: `its deploy failed at ${deployFailed.data.stage}: ${deployFailed.data.error}` };
  }
  if (findOf(events, 'health.failed', deploymentId, (e) => e.data.phase === 'post-deploy')) return waiting; // the rollback agent decides
  if (findOf(events, 'health.inconclusive', deploymentId)) return { kind: 'triage', promoted, ...commits, detail: 'its verdict was inconclusive (its metric checks could not be judged)' };
  const passed = findOf(events, 'health.passed', deploymentId, (e) => e.data.phase === 'post-deploy');
  if (!passed || !completed) return waiting;
  const done = { kind: 'passed' as const, mergeCommit: completed.data.mergeCommit, previousCommit: completed.data.previousCommit };
  if (step.guardMs === 0) return done;
  const guard = `its guard window (the ${followupLabel(step.guardMs)} check)`;
  const isGuard = (e: { data: { offsetMs: number } }) => e.data.offsetMs === step.guardMs;
  if (findOf(events, 'followup.passed', deploymentId, isGuard)) return done;
  if (findOf(events, 'followup.failed', deploymentId, isGuard)) return waiting; // the rollback agent decides
  const inconclusive = findOf(events, 'followup.inconclusive', deploymentId, isGuard);
  if (inconclusive) return { kind: 'triage', promoted, ...commits, detail: `${guard} was inconclusive` };
  const cancelled = findOf(events, 'followup.cancelled', deploymentId, isGuard);
  if (cancelled) return { kind: 'triage', promoted, ...commits, detail: `${guard} was cancelled: ${cancelled.data.detail}` };
  return waiting;
}

export type DecidedOutcome = Exclude<StepOutcome, { kind: 'waiting' }>;

export function isDecided(outcome: StepOutcome): outcome is DecidedOutcome {
  return outcome.kind !== 'waiting';
}

/** The abort asked for, if any (the first one counts; a later one asking for rollback adds it). */
export function abortRequested(events: readonly IncidentEvent[]): { rollback: boolean; requestedBy: string } | undefined {
  const aborts = events.filter((event): event is Of<'release.abort-requested'> => event.type === 'release.abort-requested');
  if (aborts.length === 0) return undefined;
  return { rollback: aborts.some((a) => a.data.rollback), requestedBy: aborts[0]!.data.requestedBy };
}

/**
 * The step to roll back when the final check failed: the one service of the release that failed,
 * when it is the only one that did not pass. Several failing, one outside the release, or one
 * that could not be judged: undefined (nothing is reverted; triage).
 */
export function finalCulprit<S extends { service: string }>(check: { services: ReadonlyArray<{ service: string; inRelease: boolean; outcome: 'passed' | 'failed' | 'inconclusive' }> }, steps: readonly S[]): S | undefined {
  const notPassed = check.services.filter((s) => s.outcome !== 'passed');
  const only = notPassed.length === 1 ? notPassed[0]! : undefined;
  if (!only || only.outcome !== 'failed' || !only.inRelease) return undefined;
  return steps.find((step) => step.service === only.service);
}
