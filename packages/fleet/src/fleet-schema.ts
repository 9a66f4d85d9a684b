import { z } from 'zod';
import { safeLine, serviceName } from '@agentbus/contracts';
import { refNameProblem } from '@agentbus/git';
import { healthCheckSchema, metricCheckSchema, prometheusSectionSchema } from '@agentbus/health';

/**
 * The service registry's schema: one JSON file listing the services under watch. Every object
 * is strict (an unknown or misspelt field is an error, not silently ignored). Each section is
 * exported so later features can extend the file: `fleetConfigSchema.extend({ notifications:
 * mySchema.optional() })`, passed to loadFleetConfig's `schema` option. Documented field by
 * field in infra/config/README.md.
 */

const gitName = (what: string) =>
  z.string().superRefine((value, context) => {
    const problem = refNameProblem(value);
    if (problem) context.addIssue({ code: 'custom', message: `not a valid ${what} name: ${problem}` });
  });

const milliseconds = z.number().int().min(0);
const HOUR_MS = 3_600_000;
const MAX_FOLLOWUP_MS = 7 * 24 * HOUR_MS;

export const RollbackStrategies = {
  /** Default. `git revert -m 1 <merge>`, push, verify, redeploy: the fix is a commit everyone sees. */
  gitRevert: 'git-revert',
  /** Seed 003: check out the last known good commit and run the deploy command on it; the branch is not changed. */
  redeployPrevious: 'redeploy-previous',
} as const;
export type RollbackStrategy = (typeof RollbackStrategies)[keyof typeof RollbackStrategies];

export const gitSectionSchema = z.strictObject({
  /** The working clone deployed from; relative paths are relative to the configuration file. */
  path: z.string().min(1),
  branch: gitName('branch').default('main'),
  remote: gitName('remote').default('origin'),
  /** Author of the merge and revert commits agentbus makes; default: the clone's git config. */
  committer: z.strictObject({ name: z.string().min(1), email: z.string().min(3) }).optional(),
  /** Per git command (fetch, push, ls-remote included). */
  timeoutMs: z.number().int().positive().default(60_000),
});

export const deployCommandSchema = z.strictObject({
  /** argv, run without a shell: ["systemctl", "restart", "api"]. Never taken from a message. */
  command: z
    .array(z.string().min(1, 'an empty argument'), { error: 'expected an array of strings (argv, run without a shell), e.g. ["systemctl", "restart", "api"]' })
    .min(1, 'needs at least the program to run'),
  /** Where it runs; default the working clone. Relative to the configuration file. */
  cwd: z.string().min(1).optional(),
  /** Added to the environment agentbus runs with. */
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'), z.string()).optional(),
  /** Killed (with its process group) after this long: the deploy failed. */
  timeoutMs: z.number().int().positive().default(300_000),
});

export const healthSectionSchema = z.strictObject({
  checks: z.array(healthCheckSchema).min(1, 'needs at least one check'),
  /** Wait after a deploy before probing (seed 000: 60 s). */
  stabilizationMs: milliseconds.default(60_000),
  /** Probes per check in one run. */
  probes: z.number().int().min(1).max(1_000).default(5),
  probeIntervalMs: milliseconds.default(2_000),
  /** Consecutive failed probes that fail a fatal check (one flaky probe is not a failure). At most `probes`. */
  consecutiveFailures: z.number().int().min(1).default(3),
  /** PromQL checks through the fleet's `prometheus`, judged after the HTTP probes (and by every follow-up). */
  metrics: z.array(metricCheckSchema).default([]),
  /**
   * Follow-up checks after a deployment was judged healthy, each this long after the verdict
   * (seed 001: +1 h, +4 h, +12 h). Increasing; at most 10, the last within 7 days (how long the
   * idempotency ledger remembers). `[]`: none.
   */
  followupOffsetsMs: z
    .array(z.number().int().positive('a follow-up comes after the verdict: give a positive number of milliseconds'))
    .max(10, 'at most 10 follow-ups')
    .default([HOUR_MS, 4 * HOUR_MS, 12 * HOUR_MS])
    .superRefine((offsets, context) => {
      offsets.forEach((offset, index) => {
        if (offset <= 0) return; // named by the element's own rule
        const before = offsets[index - 1];
        if (before !== undefined && offset <= before) context.addIssue({ code: 'custom', path: [index], message: `${offset} ms is not after the follow-up before it (${before} ms): list them in increasing order` });
        if (offset > MAX_FOLLOWUP_MS) context.addIssue({ code: 'custom', path: [index], message: `${offset} ms is more than 7 days after the deploy` });
      });
    }),
});

export const rollbackSectionSchema = z.strictObject({
  strategy: z.enum([RollbackStrategies.gitRevert, RollbackStrategies.redeployPrevious]).default(RollbackStrategies.gitRevert),
  /** After rolling back, how long to re-probe until healthy before the rollback counts as failed. */
  healthyWithinMs: z.number().int().positive().default(60_000),
});

export const serviceSchema = z.strictObject({
  name: serviceName,
  description: z.string().max(500).optional(),
  git: gitSectionSchema,
  deploy: deployCommandSchema,
  health: healthSectionSchema,
  rollback: rollbackSectionSchema.prefault({}),
});

/**
 * A secret (a webhook URL is one, a token is one): written in the file, or `{ "env": "NAME" }` to
 * read it from the environment when the service starts (resolveSecret). Never logged.
 */
export const secretSchema = z.union([z.string().min(1), z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name') })], {
  error: 'a string, or { "env": "VARIABLE" } to read it from the environment',
});
export type Secret = z.output<typeof secretSchema>;

/**
 * What is wrong with a PagerDuty routing key, or null when it has the form PagerDuty takes: the
 * "32 character Integration Key" of an Events API v2 integration or ruleset (developer.pagerduty.com,
 * Events API v2, "Send an Alert Event"), letters and digits. PagerDuty answers 400 to any other
 * key, so every page would be dead-lettered: the key is checked when the registry is loaded (a key
 * in the file) or when the notifier resolves its targets (a key from the environment). The
 * problem names the key's length and what is in it, never the key (a secret).
 */
export function pagerDutyRoutingKeyProblem(key: string): string | null {
  if (/^[A-Za-z0-9]{32}$/.test(key)) return null;
  const kind = /\s/.test(key) ? ', with a space or a line break in it' : /[^A-Za-z0-9]/.test(key) ? ', with characters other than letters and digits' : '';
  return `not a PagerDuty routing key: PagerDuty takes the 32 letters and digits of an Events API v2 integration's Integration Key, and this one has ${key.length} characters${kind}`;
}

/** The routing key: a literal one is checked here; one read from the environment when the notifier starts. */
const routingKeySchema = secretSchema.superRefine((value, context) => {
  const problem = typeof value === 'string' ? pagerDutyRoutingKeyProblem(value) : null;
  if (problem) context.addIssue({ code: 'custom', message: problem });
});

/**
 * A ticket label GitHub takes: at most 50 characters ("name is too long (maximum is 50
 * characters)", github/docs#32156), one line without control characters.
 */
const ticketLabelSchema = z
  .string()
  .min(1)
  .max(50, 'GitHub refuses a label name over 50 characters')
  .refine((label) => safeLine(label) === label, 'a label is one line of text, without control characters');

/** Where notifications go. Every target is optional: what is not configured is not sent. */
export const notificationsSectionSchema = z.strictObject({
  /** Per webhook request. */
  timeoutMs: z.number().int().positive().max(120_000).default(5_000),
  /** Paging (PagerDuty Events API v2: trigger and resolve with a stable dedup_key per incident). */
  pagerduty: z
    .strictObject({
      url: secretSchema.default('https://events.pagerduty.com/v2/enqueue'),
      /** The Events API v2 integration's 32-character Integration Key (pagerDutyRoutingKeyProblem). */
      routingKey: routingKeySchema,
      /** payload.source of every page. */
      source: z.string().min(1).default('agentbus'),
    })
    .optional(),
  /** Chat incoming webhooks: one message per incident update. */
  chat: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, - and _'),
        url: secretSchema,
        format: z.enum(['slack', 'discord']),
      }),
    )
    .default([]),
  /** Bug tickets, as a GitHub "create issue" request (title, body, labels). */
  ticket: z
    .strictObject({
      url: secretSchema,
      /** Sent as `Authorization: Bearer <token>`. */
      token: secretSchema.optional(),
      labels: z.array(ticketLabelSchema).max(100, 'GitHub takes at most 100 labels on an issue').default(['incident', 'agentbus']),
    })
    .optional(),
});

export const escalationSectionSchema = z.strictObject({
  /** A watched service unhealthy for longer than this pages a human (seed 002: 5 minutes of customer-facing impact). */
  unhealthyAfterMs: z.number().int().positive().default(5 * 60_000),
});

/** The bus watchdog's thresholds (the health monitor runs it): each alert is raised once and resolved when it clears. */
export const watchdogSectionSchema = z.strictObject({
  /** A service whose newest heartbeat is older than this is reported missing (its heartbeat interval is 10 s by default). */
  heartbeatTimeoutMs: z.number().int().positive().default(60_000),
  /** A consumer with messages waiting and nothing delivered for this long (or every slot taken and nothing acknowledged) is stalled. */
  stallMs: z.number().int().positive().default(120_000),
  /** More messages waiting on one consumer than this is a backlog. */
  backlogMax: z.number().int().positive().default(1_000),
  /** More messages of one consumer being redelivered than this is a redelivery storm. */
  redeliveredMax: z.number().int().positive().default(100),
  /** The DLQ growing by more than this many dead letters per minute (between two watchdog rounds). */
  dlqPerMinuteMax: z.number().positive().default(20),
});

export const postmortemsSectionSchema = z.strictObject({
  /** Folder of the Markdown post-mortems; relative to the configuration file. */
  dir: z.string().min(1).default('postmortems'),
});

export const fleetConfigSchema = z.strictObject({
  /** Optional, for editors. */
  $schema: z.string().optional(),
  /** The file format's version; 1 today. */
  version: z.literal(1).default(1),
  /** May be empty: a fresh installation watches nothing until services are added. */
  services: z.array(serviceSchema),
  notifications: notificationsSectionSchema.prefault({}),
  escalation: escalationSectionSchema.prefault({}),
  watchdog: watchdogSectionSchema.prefault({}),
  postmortems: postmortemsSectionSchema.prefault({}),
  /** Where metric checks (`health.metrics`) are evaluated; required when any service has one. */
  prometheus: prometheusSectionSchema.optional(),
});

/** A deploy command after loading: cwd resolved (absolute; the working clone when not given). */
export type DeployCommand = Omit<z.output<typeof deployCommandSchema>, 'cwd'> & { cwd: string };
export type DeployCommandInput = z.input<typeof deployCommandSchema>;
/** One service after loading: paths absolute, defaults filled in. */
export type FleetService = Omit<z.output<typeof serviceSchema>, 'deploy'> & { deploy: DeployCommand };
export type FleetServiceInput = z.input<typeof serviceSchema>;
export type FleetConfig = Omit<z.output<typeof fleetConfigSchema>, 'services'> & { services: FleetService[] };
/** The file as written: what `JSON.parse` of a valid file is assignable to. */
export type FleetConfigInput = z.input<typeof fleetConfigSchema>;
