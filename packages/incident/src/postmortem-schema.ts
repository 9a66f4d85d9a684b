import { z } from 'zod';
import { checkResultSchema, metricResultSchema } from '@agentbus/contracts';
import { IncidentOutcomes } from './summary.ts';

/**
 * The post-mortem document (postmortems/<id>) as agentbus writes it and reads it back. The
 * schema is the one source of its type: buildPostmortem returns it, and every reader (the
 * post-mortem service updating its own document, `agentbus incidents`, `agentbus postmortem
 * show`) parses what it read with it instead of casting, since anyone may write a document there.
 */

/** The change a deployment brought, as git tells it (filled in by whoever can read the clone). */
export const changeFactsSchema = z.object({
  mergeCommit: z.string(),
  /** The merged branch tip: its author and message are the change's. */
  author: z.string(),
  authoredAt: z.string(),
  subject: z.string(),
  body: z.string(),
  files: z.array(z.object({ path: z.string(), added: z.number().nullable(), deleted: z.number().nullable() })),
  totals: z.object({ files: z.number(), added: z.number(), deleted: z.number() }),
});
export type ChangeFacts = z.infer<typeof changeFactsSchema>;

export const taskFactSchema = z.object({ id: z.string(), type: z.string(), time: z.string(), source: z.string() });
export type TaskFact = z.infer<typeof taskFactSchema>;

export const deadLetterFactSchema = z.object({ seq: z.number(), consumer: z.string(), reason: z.string(), error: z.string(), type: z.string().optional() });
export type DeadLetterFact = z.infer<typeof deadLetterFactSchema>;

export const escalationFactSchema = z.object({
  dedupKey: z.string(),
  kind: z.string(),
  severity: z.string(),
  summary: z.string(),
  raisedAt: z.string(),
  resolvedAt: z.string().nullable(),
});
export type EscalationFact = z.infer<typeof escalationFactSchema>;

/** One line of an incident's timeline, as in seed 002's table: time, event, actor. */
export const timelineRowSchema = z.object({
  time: z.string(),
  /** Milliseconds after the first event. */
  offsetMs: z.number(),
  event: z.string(),
  actor: z.string(),
  type: z.string(),
});
export type TimelineRow = z.infer<typeof timelineRowSchema>;

const nullableMs = z.number().nullable();

/** A post-mortem: a pure function of its input (the same events always give the same document). */
export const postmortemSchema = z.object({
  incidentId: z.string(),
  title: z.string(),
  service: z.string().nullable(),
  outcome: z.enum(IncidentOutcomes),
  /** open: a human still has an unresolved escalation. */
  status: z.enum(['resolved', 'open']),
  summary: z.string(),
  impact: z.object({
    startedAt: z.string().nullable(),
    endedAt: z.string().nullable(),
    /** Bad code live: deploy.completed → healthy again (null: not recovered, or never degraded). */
    degradedMs: nullableMs,
    /** Merge → health.failed. */
    timeToDetectMs: nullableMs,
    /** health.failed → healthy again. */
    timeToRollBackMs: nullableMs,
    /** Merge → healthy again. */
    timeToHealthyMs: nullableMs,
  }),
  timeline: z.array(timelineRowSchema),
  change: z.object({
    ref: z.string().nullable(),
    requestedBy: z.string().nullable(),
    mergeCommit: z.string().nullable(),
    previousCommit: z.string().nullable(),
    revertCommit: z.string().nullable(),
    restoredCommit: z.string().nullable(),
    details: changeFactsSchema.nullable(),
  }),
  failingChecks: z.array(checkResultSchema),
  /** Metric checks that failed (absent in documents from before metric checks). */
  failingMetrics: z.array(metricResultSchema).default([]),
  /** The follow-up that found the failure ("+4 h"); null: the verdict after the deploy did. */
  foundBy: z.string().nullable().default(null),
  baseline: z.object({ healthy: z.boolean(), checkedAt: z.string(), checks: z.array(checkResultSchema) }).nullable(),
  /** Stabilization window and probing the deployment was judged with. */
  judgedWith: z.object({ stabilizationMs: z.number(), probes: z.number().nullable() }).nullable(),
  /** What the platform did and why. */
  decisions: z.array(z.string()),
  actionItems: z.array(z.string()),
  escalations: z.array(escalationFactSchema),
  tasks: z.array(taskFactSchema),
  deadLetters: z.array(deadLetterFactSchema),
  /** seed 004's ticket fields. */
  ticket: z.object({
    deploymentSha: z.string().nullable(),
    rolledBackTo: z.string().nullable(),
    failureReason: z.string().nullable(),
    failingEndpoint: z.string().nullable(),
    timeToDetectMs: nullableMs,
    timeToRollBackMs: nullableMs,
  }),
  /** The last event's time: a post-mortem changes only when new events arrive. */
  updatedAt: z.string().nullable(),
  eventCount: z.number(),
});
export type Postmortem = z.infer<typeof postmortemSchema>;
