import { z } from 'zod';
import { defineMessage } from '../registry.ts';
import { eventSubject } from '../subjects.ts';
import { commitSha, isoTime, outsideText, serviceName } from './fields.ts';

/** One health check's verdict over a run of probes. */
export const checkResultSchema = z.object({
  name: z.string(),
  url: z.string(),
  severity: z.enum(['warning', 'fatal']),
  /** True when the check passed (a warning that fails is `ok: false` but never fails the run). */
  ok: z.boolean(),
  probes: z.number().int().nonnegative(),
  failures: z.number().int().nonnegative(),
  maxConsecutiveFailures: z.number().int().nonnegative(),
  /** Consecutive failed probes that make a fatal failure. */
  failureThreshold: z.number().int().positive(),
  lastStatus: z.number().int().nullable(),
  expectedStatus: z.number().int(),
  latencyP95Ms: z.number().nonnegative().nullable(),
  latencyThresholdMs: z.number().nonnegative().nullable(),
  latenciesMs: z.array(z.number().nonnegative()),
  /** Why it failed: the last error (connection refused, time-out, status, field mismatch, latency). */
  error: outsideText({ max: 2_000 }).nullable(),
});
export type CheckResult = z.infer<typeof checkResultSchema>;

/** Where a baseline came from: the latest evidence of the service's health before a deployment. */
export const EvidenceKinds = ['watch', 'verdict', 'rollback', 'deploy-probe'] as const;

/**
 * The service's health as last seen before a deployment began: the newest evidence of any kind
 * (a watch sample, the previous deployment's verdict, a rollback's re-probe), or a probe the
 * deployer made itself when there was none since the previous deployment.
 */
export const baselineSchema = z.object({
  healthy: z.boolean(),
  /** When the probes that give this evidence began. */
  checkedAt: isoTime,
  checks: z.array(checkResultSchema),
  source: z.enum(EvidenceKinds).optional(),
  /** The deployment whose verdict or rollback this evidence is. */
  deploymentId: z.string().min(1).optional(),
});
export type Baseline = z.infer<typeof baselineSchema>;

const verdict = {
  deploymentId: z.string().min(1),
  service: serviceName,
  /** post-deploy: judging a new deployment; post-rollback: confirming the rollback restored health. */
  phase: z.enum(['post-deploy', 'post-rollback']),
  mergeCommit: commitSha.optional(),
  /** The service's health just before the deploy (null when none was recorded). */
  baseline: baselineSchema.nullable(),
  checks: z.array(checkResultSchema),
  stabilizationMs: z.number().nonnegative(),
  startedAt: isoTime,
  finishedAt: isoTime,
  /** Time spent waiting for probes that timed out (not the platform's own time). */
  probeTimeoutMs: z.number().nonnegative(),
  /** Configured pauses between probe rounds (not the platform's own time either). */
  probeWaitMs: z.number().nonnegative(),
};

export const healthPassed = defineMessage({
  type: 'health.passed',
  kind: 'event',
  subject: eventSubject('health.passed'),
  description: 'Every fatal check passed after the stabilization window (warnings may have failed).',
  schema: z.object(verdict),
});

export const healthFailed = defineMessage({
  type: 'health.failed',
  kind: 'event',
  subject: eventSubject('health.failed'),
  description: 'A fatal check failed the configured number of consecutive probes, or its p95 latency was over the threshold.',
  schema: z.object(verdict),
});
