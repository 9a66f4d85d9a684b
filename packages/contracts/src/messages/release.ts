import { z } from 'zod';
import { safeLine } from '../safe-text.ts';
import { defineMessage } from '../registry.ts';
import { eventSubject, taskSubject } from '../subjects.ts';
import { commitSha, gitRef, isoTime, outsideLine, outsideText, serviceName } from './fields.ts';

/**
 * Staged multi-service releases (seed 001): an ordered list of steps, each the existing deploy of
 * one service, then its guard window (a follow-up check of that deployment `guardMs` after its
 * verdict), then the next step; after the last, a final check across the release's services.
 * The release's id is its start task's id, and every event of the release (the release agent's,
 * and those of each step's deploy, verdict, guard and rollback) carries it as correlationId: one
 * incident, one post-mortem.
 */

/** At most a week: a guard window is a follow-up check, and follow-ups are kept 8 days. */
export const MAX_GUARD_MS = 7 * 24 * 3_600_000;
export const MAX_RELEASE_STEPS = 20;

export const ReleaseStatuses = ['running', 'healthy', 'rolled-back', 'triage', 'failed', 'aborted'] as const;
export type ReleaseStatus = (typeof ReleaseStatuses)[number];
export const ReleaseStepStatuses = ['pending', 'promoted', 'rolled-back', 'failed', 'skipped'] as const;
export type ReleaseStepStatus = (typeof ReleaseStepStatuses)[number];
export const RollbackScopes = ['service', 'release'] as const;
export type RollbackScope = (typeof RollbackScopes)[number];

const guardMs = z.number().int().min(0).max(MAX_GUARD_MS);

export const releaseStepSchema = z.strictObject({
  service: serviceName,
  ref: gitRef,
  /** The guard window after the step's verdict: 0 for none. @default the service's stabilization window */
  guardMs: guardMs.optional(),
});

/** One step as the release runs it: its guard resolved, its deployment named. */
const plannedStep = {
  n: z.number().int().positive(),
  service: serviceName,
  ref: gitRef,
  guardMs,
  /** The deploy task's id, and so the deployment's. */
  deploymentId: z.string().min(1),
};

export const releaseStartTask = defineMessage({
  type: 'release.start',
  kind: 'task',
  subject: taskSubject('release', 'start'),
  description: 'Promote `steps` one service at a time, each after the previous one passed its verdict and guard window; then check every service of the release.',
  schema: z
    .strictObject({
      steps: z.array(releaseStepSchema).min(1, 'a release needs at least one step').max(MAX_RELEASE_STEPS),
      /** `service`: only the failing step's service is rolled back (seed 001); `release`: every promoted step, newest first. */
      rollbackScope: z.enum(RollbackScopes).default('service'),
      /** Services outside the release that its final check judges too (what the release could break). */
      alsoCheck: z.array(serviceName).max(50).default([]),
      requestedBy: z.string().min(1).max(200).transform((text) => safeLine(text, 200)),
      dryRun: z.boolean().default(false),
    })
    .superRefine((release, issue) => {
      const seen = new Map<string, number>();
      release.steps.forEach((step, index) => {
        const first = seen.get(step.service);
        if (first !== undefined) issue.addIssue({ code: 'custom', path: ['steps', index, 'service'], message: `${step.service} is already step ${first + 1}: a release promotes each service once` });
        else seen.set(step.service, index);
      });
      release.alsoCheck.forEach((service, index) => {
        if (seen.has(service)) issue.addIssue({ code: 'custom', path: ['alsoCheck', index], message: `${service} is a step of the release: the final check judges it already` });
      });
    }),
});

export const releaseAbortTask = defineMessage({
  type: 'release.abort',
  kind: 'task',
  subject: taskSubject('release', 'abort'),
  description: 'Stop a running release before its next step; with `rollback`, roll back every promoted step too, newest first.',
  schema: z.strictObject({
    releaseId: z.string().min(1).max(200),
    rollback: z.boolean().default(false),
    requestedBy: z.string().min(1).max(200).transform((text) => safeLine(text, 200)),
  }),
});

export const releaseStarted = defineMessage({
  type: 'release.started',
  kind: 'event',
  subject: eventSubject('release.started'),
  description: 'A release began: its steps in order, each guard window resolved, and what the final check covers.',
  schema: z.object({
    releaseId: z.string().min(1),
    steps: z.array(z.object(plannedStep)).min(1),
    rollbackScope: z.enum(RollbackScopes),
    alsoCheck: z.array(serviceName),
    requestedBy: outsideLine(200),
  }),
});

export const releasePlanned = defineMessage({
  type: 'release.planned',
  kind: 'event',
  subject: eventSubject('release.planned'),
  description: 'A dry run of a release: what each step would do and what would be rolled back on each failure. Nothing was changed.',
  schema: z.object({
    releaseId: z.string().min(1),
    steps: z.array(z.object({ ...plannedStep, plan: z.array(outsideText({ max: 2_000 })) })),
    finalCheck: z.array(serviceName),
    /** What happens on each possible failure. */
    onFailure: z.array(outsideText({ max: 2_000 })),
  }),
});

export const releaseStepStarted = defineMessage({
  type: 'release.step-started',
  kind: 'event',
  subject: eventSubject('release.step-started'),
  description: 'A step of a release is being promoted: its deploy task was sent.',
  schema: z.object({ releaseId: z.string().min(1), of: z.number().int().positive(), ...plannedStep }),
});

export const releaseStepPassed = defineMessage({
  type: 'release.step-passed',
  kind: 'event',
  subject: eventSubject('release.step-passed'),
  description: 'A step passed its verdict and its guard window: the next step may be promoted.',
  schema: z.object({ releaseId: z.string().min(1), of: z.number().int().positive(), ...plannedStep, mergeCommit: commitSha }),
});

export const releaseChecked = defineMessage({
  type: 'release.checked',
  kind: 'event',
  subject: eventSubject('release.checked'),
  description: "The final check across the release's services (and alsoCheck): each service's HTTP and metric checks.",
  schema: z.object({
    releaseId: z.string().min(1),
    outcome: z.enum(['passed', 'failed', 'inconclusive']),
    services: z.array(
      z.object({
        service: serviceName,
        inRelease: z.boolean(),
        outcome: z.enum(['passed', 'failed', 'inconclusive']),
        /** What failed (or could not be judged). */
        detail: outsideText({ max: 2_000 }).optional(),
        failingChecks: z.array(z.string()),
      }),
    ),
    startedAt: isoTime,
    finishedAt: isoTime,
  }),
});

export const releaseAbortRequested = defineMessage({
  type: 'release.abort-requested',
  kind: 'event',
  subject: eventSubject('release.abort-requested'),
  description: 'Someone asked a running release to stop before its next step (and, with rollback, to undo what it promoted).',
  schema: z.object({ releaseId: z.string().min(1), rollback: z.boolean(), requestedBy: outsideLine(200) }),
});

export const releaseCompleted = defineMessage({
  type: 'release.completed',
  kind: 'event',
  subject: eventSubject('release.completed'),
  description: 'A release ended: `status` says how, and each step how it stands.',
  schema: z.object({
    releaseId: z.string().min(1),
    status: z.enum(ReleaseStatuses),
    steps: z.array(z.object({ n: z.number().int().positive(), service: serviceName, ref: gitRef, deploymentId: z.string().min(1), status: z.enum(ReleaseStepStatuses) })),
    detail: outsideText({ max: 2_000 }),
  }),
});
