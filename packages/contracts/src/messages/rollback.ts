import { z } from 'zod';
import { defineMessage } from '../registry.ts';
import { eventSubject, taskSubject } from '../subjects.ts';
import { safeLine } from '../safe-text.ts';
import { commitSha, isoTime, outsideText, serviceName } from './fields.ts';
import { checkResultSchema } from './health.ts';

export const RollbackStrategies = ['git-revert', 'redeploy-previous'] as const;

const target = {
  deploymentId: z.string().min(1),
  service: serviceName,
  mergeCommit: commitSha,
  strategy: z.enum(RollbackStrategies),
};

export const rollbackTask = defineMessage({
  type: 'rollback.rollback',
  kind: 'task',
  subject: taskSubject('rollback', 'rollback'),
  description: 'Roll back a deployment that is still the latest of its service, though no check of its own failed: a release rolled back as a whole, a final check that named it, a release aborted with rollback.',
  schema: z.strictObject({
    service: serviceName,
    deploymentId: z.string().min(1),
    reason: z.string().min(1).max(2_000).transform((text) => safeLine(text, 2_000)),
    requestedBy: z.string().min(1).max(200).transform((text) => safeLine(text, 200)),
    /**
     * The change was found bad (a release's final check named its service): quarantine it, as after
     * its own failed check. False for a change undone only because its release was (rollbackScope
     * release, an abort with rollback): it may be deployed again.
     */
    quarantine: z.boolean().default(false),
  }),
});

export const rollbackStarted = defineMessage({
  type: 'rollback.started',
  kind: 'event',
  subject: eventSubject('rollback.started'),
  description: 'The failure was attributed to this deployment; the rollback begins.',
  schema: z.object({ ...target, reason: outsideText(), failingChecks: z.array(z.string()) }),
});

export const rollbackReverted = defineMessage({
  type: 'rollback.reverted',
  kind: 'event',
  subject: eventSubject('rollback.reverted'),
  description: 'The revert commit (or the previous known-good commit) is on the remote, verified.',
  schema: z.object({ ...target, revertCommit: commitSha.nullable(), restoredCommit: commitSha, pushedAt: isoTime }),
});

export const rollbackCompleted = defineMessage({
  type: 'rollback.completed',
  kind: 'event',
  subject: eventSubject('rollback.completed'),
  description: 'Reverted, pushed, verified, redeployed and healthy again.',
  schema: z.object({
    ...target,
    revertCommit: commitSha.nullable(),
    restoredCommit: commitSha,
    checks: z.array(checkResultSchema),
    durations: z.object({
      /** health.failed → revert commit verified on the remote. */
      revertMs: z.number().nonnegative(),
      redeployMs: z.number().nonnegative(),
      verifyMs: z.number().nonnegative(),
      /** Of verifyMs: pauses between re-probes and probes that timed out. */
      verifyWaitMs: z.number().nonnegative(),
      totalMs: z.number().nonnegative(),
    }),
  }),
});

export const rollbackFailed = defineMessage({
  type: 'rollback.failed',
  kind: 'event',
  subject: eventSubject('rollback.failed'),
  description: 'The rollback could not finish; a human must look (an escalation is raised).',
  schema: z.object({
    ...target,
    /** attribute: the decision itself could not be made (the release manifest or the clone could not be read). */
    stage: z.enum(['attribute', 'revert', 'push', 'verify-push', 'redeploy', 'verify-health']),
    error: outsideText(),
    revertCommit: commitSha.nullable().optional(),
  }),
});

/** `tampered-state`: the release manifest the decision reads fails verification: nothing is decided on it (a chain-break escalation). */
export const RollbackSkipReasons = ['baseline-unhealthy', 'not-latest-deployment', 'unknown-deployment', 'already-rolled-back', 'revert-of-revert', 'checks-not-owned', 'tampered-state'] as const;

export const rollbackSkipped = defineMessage({
  type: 'rollback.skipped',
  kind: 'event',
  subject: eventSubject('rollback.skipped'),
  description: 'A health failure that the platform will not act on by itself: `reason` says why.',
  schema: z.object({
    deploymentId: z.string().min(1),
    service: serviceName,
    mergeCommit: commitSha.optional(),
    reason: z.enum(RollbackSkipReasons),
    detail: outsideText(),
  }),
});
