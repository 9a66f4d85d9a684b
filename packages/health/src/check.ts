import { z } from 'zod';
import { formatIssues } from '@agentbus/contracts';
import { HealthError } from './errors.ts';

export const Severities = {
  /** Degraded but working: reported, never fails a run, never triggers a rollback. */
  warning: 'warning',
  /** Broken: fails the run after the configured consecutive failed probes (or on p95 latency). */
  fatal: 'fatal',
} as const;
export type Severity = (typeof Severities)[keyof typeof Severities];

type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
const jsonValue: z.ZodType<JsonValue> = z.lazy(() => z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonValue), z.record(z.string(), jsonValue)]));

/**
 * One HTTP health check, as written in the service registry. Types come from this schema:
 * `HealthCheckInput` (as written, defaults may be left out) and `HealthCheck` (validated).
 */
export const healthCheckSchema = z.strictObject({
  /** Unique within a service; names the check in events and reports. */
  name: z.string().min(1).max(100),
  /** http:// or https:// URL probed with GET. */
  url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
  /** The status a healthy answer has. */
  expectStatus: z.number().int().min(100).max(599).default(200),
  /** Dot paths into the JSON body (`status`, `checks.db.ok`, `items.0.id`) and the value each must equal. */
  expectJson: z.record(z.string().regex(/^[^.]+(\.[^.]+)*$/, 'a dot path such as status or checks.db.ok'), jsonValue).optional(),
  /** p95 latency over a run above this fails the check. Unset: latency is reported, not judged. */
  latencyThresholdMs: z.number().int().positive().optional(),
  /** `fatal` (default) can fail a run and trigger a rollback; `warning` is only reported. */
  severity: z.enum([Severities.warning, Severities.fatal]).default(Severities.fatal),
  /** A probe that has no complete answer after this long failed with `timeout`. */
  timeoutMs: z.number().int().positive().max(120_000).default(5_000),
  /** Extra request headers (e.g. Host, an auth token). */
  headers: z.record(z.string().min(1), z.string()).optional(),
});

export type HealthCheckInput = z.input<typeof healthCheckSchema>;
export type HealthCheck = z.output<typeof healthCheckSchema>;

/** Validates checks once; throws HealthError `invalid-check` naming every bad field (`checks.1.url: …`). */
export function compileChecks(checks: readonly HealthCheckInput[]): HealthCheck[] {
  const parsed = z.array(healthCheckSchema).safeParse(checks);
  if (!parsed.success) {
    throw new HealthError('invalid-check', `invalid health checks: ${formatIssues(parsed.error, 'checks')}`, {
      hint: 'fix the named fields (a check needs name and url; severity is warning or fatal)',
    });
  }
  const seen = new Set<string>();
  for (const check of parsed.data) {
    if (seen.has(check.name)) {
      throw new HealthError('invalid-check', `invalid health checks: two checks are named ${JSON.stringify(check.name)}`, { hint: 'give every check of a service its own name' });
    }
    seen.add(check.name);
  }
  return parsed.data;
}
