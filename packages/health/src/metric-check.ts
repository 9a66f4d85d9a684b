import { z } from 'zod';
import { Severities } from './check.ts';

/**
 * One metric check, as written in the service registry (`health.metrics`): a PromQL query
 * evaluated through the Prometheus HTTP API and judged
 * - against absolute limits (`max`, `min`): e.g. p95 from a histogram at most 0.3 s;
 * - against its own value just before the deploy (`baseline`): the value after may exceed the
 *   baseline by at most `maxRatio` times and/or `maxIncrease` (with both, it fails only past
 *   both: an error rate may go from 0.1 % to 0.2 %, not to 5 %);
 * - or, with `newSeries`, by the series it returns: one present after the deploy and absent
 *   before it fails the check (seed 001's "new error types"; aggregate by the label that names
 *   the type, e.g. `count by (type) (app_errors_total)`).
 * Higher is worse for `baseline` (write error rates, not success rates).
 */
export const metricCheckSchema = z
  .strictObject({
    /** Unique within a service (HTTP checks included); names the check in events and reports. */
    name: z.string().min(1).max(100),
    /** PromQL. A threshold check must come down to one number (sum, max, histogram_quantile). */
    query: z.string().trim().min(1).max(4_000),
    /** `fatal` (default) can fail a deployment and roll it back; `warning` is only reported. */
    severity: z.enum([Severities.warning, Severities.fatal]).default(Severities.fatal),
    max: z.number().optional(),
    min: z.number().optional(),
    baseline: z
      .strictObject({
        maxRatio: z.number().positive().optional(),
        maxIncrease: z.number().nonnegative().optional(),
      })
      .refine((rule) => rule.maxRatio !== undefined || rule.maxIncrease !== undefined, 'give maxRatio, maxIncrease or both')
      .optional(),
    newSeries: z.literal(true).optional(),
    /**
     * What an empty answer means. `inconclusive` (default): nothing to judge, retried, then reported
     * (never a pass, never by itself a revert). `pass`: fine, for a counter that can legitimately be
     * empty (no errors yet). A new-series check with no series has no new ones: it passes.
     */
    noData: z.enum(['inconclusive', 'pass']).default('inconclusive'),
  })
  .superRefine((check, context) => {
    const judged = check.max !== undefined || check.min !== undefined || check.baseline !== undefined;
    if (check.newSeries && judged) context.addIssue({ code: 'custom', message: 'newSeries judges the series a query returns, not a value: leave out max, min and baseline' });
    if (!check.newSeries && !judged) context.addIssue({ code: 'custom', message: 'say what a good value is: max, min, baseline {maxRatio, maxIncrease}, or newSeries: true' });
    if (check.max !== undefined && check.min !== undefined && check.min > check.max) context.addIssue({ code: 'custom', message: `min ${check.min} is above max ${check.max}` });
  });

export type MetricCheckInput = z.input<typeof metricCheckSchema>;
export type MetricCheck = z.output<typeof metricCheckSchema>;

/** The fleet's Prometheus (`prometheus` in the registry): where metric checks are evaluated. */
export const prometheusSectionSchema = z.strictObject({
  /** The server's base URL; `/api/v1/query` is appended. */
  url: z.url({ protocol: /^https?$/, error: 'expected the http:// or https:// base URL of a Prometheus server, e.g. http://127.0.0.1:9090' }),
  /** Per query (HTTP request and Prometheus' own `timeout`). */
  timeoutMs: z.number().int().positive().max(120_000).default(5_000),
  /** An inconclusive measurement (no data, an error, unreachable) is retried this many times before it is reported. */
  retries: z.number().int().min(0).max(20).default(3),
  retryIntervalMs: z.number().int().min(0).max(600_000).default(2_000),
});
export type PrometheusSection = z.output<typeof prometheusSectionSchema>;
