import { createHash } from 'node:crypto';
import { z } from 'zod';
import { defineMessage } from '../registry.ts';
import { eventSubject, scheduleSubject } from '../subjects.ts';
import { commitSha, isoTime, outsideText, serviceName } from './fields.ts';
import { baselineSchema, judgmentFields, metricBaselineSchema } from './health.ts';

/**
 * Follow-up checks (seed 001): hours after a deployment was judged healthy, its service's checks
 * run again (HTTP and metrics, against the baselines from before the deploy), and a failure still
 * rolls it back while it is the latest deployment of its service. Each follow-up is a durable
 * timer on AGENT_SCHEDULE, on a subject of its own, so the server keeps it across restarts and a
 * second scheduling of the same one is refused.
 */

export const FollowupStatuses = {
  pending: 'pending',
  passed: 'passed',
  failed: 'failed',
  inconclusive: 'inconclusive',
  /** A newer deployment of the service, or a rollback of this one, made it pointless. */
  cancelled: 'cancelled',
} as const;
export type FollowupStatus = (typeof FollowupStatuses)[keyof typeof FollowupStatuses];

/** How a follow-up is named to people: "+4 h" for 4 h after the deploy was judged. */
export function followupLabel(offsetMs: number): string {
  const units: Array<[number, string]> = [
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1_000, 's'],
  ];
  for (const [size, unit] of units) if (offsetMs % size === 0) return `+${offsetMs / size} ${unit}`;
  return `+${offsetMs} ms`;
}

/**
 * `schedule.followup.<deployment>.<n>`. A deployment id is a message id (letters, digits, `_ = -`
 * and inner dots); one with a dot would add subject tokens (or an empty one), so it is named by
 * 16 hex digits of its SHA-256 instead.
 */
export function followupSubject(deploymentId: string, n: number): string {
  const token = /^[A-Za-z0-9_=-]+$/.test(deploymentId) ? deploymentId : `h-${createHash('sha256').update(deploymentId).digest('hex').slice(0, 16)}`;
  return `${scheduleSubject('followup')}.${token}.${n}`;
}

const which = {
  deploymentId: z.string().min(1),
  service: serviceName,
  mergeCommit: commitSha,
  /** 1 for the first follow-up of the deployment. */
  n: z.number().int().positive(),
  /** After the deployment's verdict. */
  offsetMs: z.number().int().positive(),
  dueAt: isoTime,
};

export const followupTimer = defineMessage({
  type: 'schedule.followup',
  kind: 'timer',
  subject: `${scheduleSubject('followup')}.>`,
  subjectFor: (data: { deploymentId: string; n: number }) => followupSubject(data.deploymentId, data.n),
  description: 'One follow-up check of a deployment: redelivered to the health monitor until it is due, then run once.',
  schema: z.strictObject({
    ...which,
    /** How many follow-ups the deployment has. */
    of: z.number().int().positive(),
    /** The deployment's baselines (from before its merge): what the follow-up is judged against. */
    baseline: baselineSchema.nullable(),
    metricBaseline: metricBaselineSchema.optional(),
  }),
});

export const followupScheduled = defineMessage({
  type: 'followup.scheduled',
  kind: 'event',
  subject: eventSubject('followup.scheduled'),
  description: "A deployment judged healthy (or inconclusive) gets its service's follow-up checks, each a durable timer.",
  schema: z.object({
    deploymentId: z.string().min(1),
    service: serviceName,
    mergeCommit: commitSha,
    followups: z.array(z.object({ n: z.number().int().positive(), offsetMs: z.number().int().positive(), dueAt: isoTime })).min(1),
  }),
});

const outcome = { ...which, ...judgmentFields, firedAt: isoTime };

export const followupPassed = defineMessage({
  type: 'followup.passed',
  kind: 'event',
  subject: eventSubject('followup.passed'),
  description: 'A follow-up check found the deployment still healthy.',
  schema: z.object(outcome),
});

export const followupFailed = defineMessage({
  type: 'followup.failed',
  kind: 'event',
  subject: eventSubject('followup.failed'),
  description: 'A follow-up check found a fatal check failing hours after the deploy: the rollback agent rolls it back if it is still the latest deployment.',
  schema: z.object(outcome),
});

export const followupInconclusive = defineMessage({
  type: 'followup.inconclusive',
  kind: 'event',
  subject: eventSubject('followup.inconclusive'),
  description: 'A follow-up check could not judge a fatal metric check (no data, a query error, Prometheus unreachable): a human is asked.',
  schema: z.object(outcome),
});

export const followupCancelled = defineMessage({
  type: 'followup.cancelled',
  kind: 'event',
  subject: eventSubject('followup.cancelled'),
  description: 'A follow-up was not run: a newer deployment of the service came, this one was rolled back, or what runs cannot be told (its release manifest fails verification).',
  schema: z.object({
    ...which,
    /** tampered-state: the release manifest that says what runs fails verification, so nothing is judged or acted on (a chain-break escalation). */
    reason: z.enum(['superseded', 'rolled-back', 'tampered-state']),
    /** The deployment that superseded it. */
    supersededBy: z.string().min(1).optional(),
    detail: outsideText({ max: 1_000 }),
  }),
});
