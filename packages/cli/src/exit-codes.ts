import type { ReleaseStatus } from '@agentbus/contracts';
import type { IncidentOutcome } from '@agentbus/incident';

/**
 * Exit codes of the commands that follow an incident to its end (`deploy --wait`), so a script
 * can tell the outcomes apart without --json. 1 and 2 are every command's: an error (including a
 * time-out before any outcome) and a bad command line.
 */
export const ExitCodes = {
  /** Healthy (or, for a dry run, planned). */
  ok: 0,
  error: 1,
  usage: 2,
  /** The deploy was bad and agentbus rolled it back: the service runs the previous version, healthy. */
  rolledBack: 3,
  /** Not rolled back: agentbus escalated to a human (the failure was not attributable to the deploy). */
  escalated: 4,
  /** The deploy or its rollback failed: a human must look. */
  failed: 5,
  /** A release stopped because someone aborted it (`agentbus release abort`). */
  aborted: 6,
  /** `lockdown scan` found drift: a production clone changed outside agentbus. */
  drift: 7,
} as const;

/** `release start --wait`: how the release ended (triage is an escalation: a human decides). */
export function releaseExitCode(status: ReleaseStatus): number {
  switch (status) {
    case 'healthy':
      return ExitCodes.ok;
    case 'rolled-back':
      return ExitCodes.rolledBack;
    case 'triage':
      return ExitCodes.escalated;
    case 'failed':
      return ExitCodes.failed;
    case 'aborted':
      return ExitCodes.aborted;
    case 'running':
      return ExitCodes.error;
  }
}

export function outcomeExitCode(outcome: IncidentOutcome): number {
  switch (outcome) {
    case 'healthy':
    case 'planned':
      return ExitCodes.ok;
    case 'rolled-back':
      return ExitCodes.rolledBack;
    case 'rollback-skipped':
    case 'inconclusive':
      return ExitCodes.escalated;
    case 'deploy-failed':
    case 'rollback-failed':
      return ExitCodes.failed;
    case 'in-progress':
      return ExitCodes.error;
  }
}
