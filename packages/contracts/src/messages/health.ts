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

/** Labels of one series a PromQL query returned (`__name__` left out). */
export const seriesLabelsSchema = z.record(z.string(), z.string());

export const MetricOutcomes = {
  passed: 'passed',
  /** Over (or under) its threshold, risen past its baseline, or a series that was not there before the deploy. */
  failed: 'failed',
  /** No data, a query error, Prometheus unreachable, or no number to judge: never a pass and never by itself a revert. */
  inconclusive: 'inconclusive',
  /** Over its threshold, but it was before the deploy too and did not rise past its baseline rule: not this deployment's doing. */
  preexisting: 'preexisting',
} as const;
export type MetricOutcome = (typeof MetricOutcomes)[keyof typeof MetricOutcomes];

/** One metric check's verdict: a PromQL query through Prometheus, judged against its thresholds and its pre-deploy baseline. */
export const metricResultSchema = z.object({
  name: z.string(),
  query: outsideText({ max: 4_000 }),
  severity: z.enum(['warning', 'fatal']),
  outcome: z.enum([MetricOutcomes.passed, MetricOutcomes.failed, MetricOutcomes.inconclusive, MetricOutcomes.preexisting]),
  /** The value judged (null: none, as with no data, NaN, ±Inf or a new-series check). */
  value: z.number().nullable(),
  /** The same query just before the deploy (null: none could be had). */
  baselineValue: z.number().nullable(),
  /** The configured limits (null: not set). */
  max: z.number().nullable(),
  min: z.number().nullable(),
  maxRatio: z.number().nullable(),
  maxIncrease: z.number().nullable(),
  /** A new-series check: the label sets present now that were absent before the deploy (e.g. new error types). */
  newSeries: z.array(seriesLabelsSchema).optional(),
  /** Queries made (an inconclusive one is retried). */
  attempts: z.number().int().nonnegative(),
  evaluatedAt: isoTime,
  /** Why it failed, was inconclusive or preexisting (Prometheus' own error text for a bad query). */
  reason: outsideText({ max: 2_000 }).nullable(),
});
export type MetricResult = z.infer<typeof metricResultSchema>;

/**
 * The metric checks' values just before a deployment, captured when it began (instant queries at
 * `capturedAt`) and kept with it: every later verdict — the first, a late one, a follow-up hours
 * later — compares with these. A value that could not be captured has `error`; the judge then asks
 * Prometheus for the query at `capturedAt` instead.
 */
export const metricBaselineSchema = z.object({
  capturedAt: isoTime,
  values: z.array(
    z.object({
      name: z.string(),
      query: outsideText({ max: 4_000 }),
      value: z.number().nullable(),
      series: z.array(seriesLabelsSchema),
      error: outsideText({ max: 2_000 }).nullable(),
    }),
  ),
});
export type MetricBaseline = z.infer<typeof metricBaselineSchema>;

/** A judgment of a service: the HTTP checks' run and the metric checks together (a verdict's, a follow-up's). */
export const judgmentFields = {
  /** The service's health just before the deploy (null when none was recorded). */
  baseline: baselineSchema.nullable(),
  checks: z.array(checkResultSchema),
  /** The metric checks (PromQL), each against its thresholds and the deployment's metric baseline. */
  metrics: z.array(metricResultSchema).default([]),
  startedAt: isoTime,
  finishedAt: isoTime,
  /** Time spent waiting for probes that timed out (not the platform's own time). */
  probeTimeoutMs: z.number().nonnegative(),
  /** Configured pauses between probe rounds (not the platform's own time either). */
  probeWaitMs: z.number().nonnegative(),
};

const verdict = {
  deploymentId: z.string().min(1),
  service: serviceName,
  /** post-deploy: judging a new deployment; post-rollback: confirming the rollback restored health. */
  phase: z.enum(['post-deploy', 'post-rollback']),
  mergeCommit: commitSha.optional(),
  stabilizationMs: z.number().nonnegative(),
  ...judgmentFields,
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
  description: 'A fatal check failed the configured number of consecutive probes, its p95 latency was over the threshold, or a fatal metric check failed.',
  schema: z.object(verdict),
});

export const healthInconclusive = defineMessage({
  type: 'health.inconclusive',
  kind: 'event',
  subject: eventSubject('health.inconclusive'),
  description: 'The HTTP checks passed but a fatal metric check could not be judged (no data, a query error, Prometheus unreachable) after its retries: neither passed nor rolled back; an escalation asks a human.',
  schema: z.object(verdict),
});
