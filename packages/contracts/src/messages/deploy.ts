import { z } from 'zod';
import { safeLine } from '../safe-text.ts';
import { defineMessage } from '../registry.ts';
import { eventSubject, taskSubject } from '../subjects.ts';
import { commitSha, gitRef, isoTime, outsideLine, outsideText, serviceName } from './fields.ts';
import { baselineSchema, metricBaselineSchema } from './health.ts';
import { MAX_GUARD_MS } from './release.ts';

/**
 * A deploy that is a step of a release: the release holds the service's lease (owner: the
 * release id) from its start to its end, so the deploy takes it as that owner and never frees
 * it; its verdict is followed by the guard window (a follow-up check `guardMs` after it).
 */
export const releaseContext = z.object({
  releaseId: z.string().min(1).max(200),
  n: z.number().int().positive(),
  guardMs: z.number().int().min(0).max(MAX_GUARD_MS),
});
export type ReleaseContext = z.infer<typeof releaseContext>;

/** Who holds a deployment's service lease: its release when it is a step of one, else the deployment itself. */
export function deploymentLeaseOwner(deployment: { deploymentId: string; release?: { releaseId: string } | undefined; releaseId?: string | undefined }): string {
  return deployment.release?.releaseId ?? deployment.releaseId ?? deployment.deploymentId;
}

export const deployTask = defineMessage({
  type: 'deployer.deploy',
  kind: 'task',
  subject: taskSubject('deployer', 'deploy'),
  description: 'Merge `ref` into the service branch, push, verify the remote and run the deploy command.',
  // Strict: a misspelt field in a hand-written task ("dryrun") is an error, not silently dropped.
  schema: z.strictObject({
    service: serviceName,
    ref: gitRef,
    /** Who asked (a person or an agent): one line, named in the merge commit's Agentbus-Requested-By trailer. */
    requestedBy: z.string().min(1).max(200).transform((text) => safeLine(text, 200)),
    dryRun: z.boolean().default(false),
    /** Deploy it even when it is a change agentbus reverted before (quarantine/<service>); recorded in deploy.merged. */
    allowReverted: z.boolean().default(false),
    /** Set when the deploy is a step of a release (release.start): its deploy events carry it on. */
    release: releaseContext.optional(),
  }),
});

/** Every deploy event names its deployment: the id of the deploy task that started it. */
const deployment = {
  deploymentId: z.string().min(1),
  service: serviceName,
  ref: gitRef,
  branch: gitRef,
  requestedBy: outsideLine(200),
  /** The release this deployment is a step of. */
  release: releaseContext.optional(),
};

export const deployPlanned = defineMessage({
  type: 'deploy.planned',
  kind: 'event',
  subject: eventSubject('deploy.planned'),
  description: 'A dry run: what a deploy would do. Nothing was changed.',
  schema: z.object({
    ...deployment,
    currentCommit: commitSha,
    refCommit: commitSha,
    alreadyMerged: z.boolean(),
    steps: z.array(z.string()),
  }),
});

export const deployMerged = defineMessage({
  type: 'deploy.merged',
  kind: 'event',
  subject: eventSubject('deploy.merged'),
  description: 'The ref was merged into the branch and the remote was verified to point at the merge commit.',
  schema: z.object({
    ...deployment,
    mergeCommit: commitSha,
    previousCommit: commitSha,
    pushedAt: isoTime,
    /** The service's health just before this merge, captured when the deployment began (null: none could be had). */
    baseline: baselineSchema.nullable().optional(),
    /** Its metric checks' values just before this merge (absent: the service has none). */
    metricBaseline: metricBaselineSchema.optional(),
    /** Set when the change is one agentbus reverted before and the task allowed it anyway (allowReverted). */
    allowedReverted: z.object({ patchId: z.string(), incidentId: z.string(), revertedMergeCommit: commitSha }).optional(),
  }),
});

export const deployCompleted = defineMessage({
  type: 'deploy.completed',
  kind: 'event',
  subject: eventSubject('deploy.completed'),
  description: 'The merge commit is pushed and verified, and the deploy command succeeded. Health is not yet known.',
  schema: z.object({
    ...deployment,
    mergeCommit: commitSha,
    previousCommit: commitSha,
    mergedAt: isoTime,
    deployedAt: isoTime,
    deployCommandMs: z.number().nonnegative(),
    /**
     * The service's health just before this merge, captured when the deployment began and kept
     * with it: the verdict (however late: a redelivery, a follow-up) is judged against it.
     */
    baseline: baselineSchema.nullable().optional(),
    /** Its metric checks' values just before this merge (absent: the service has none). */
    metricBaseline: metricBaselineSchema.optional(),
  }),
});

export const DeployStages = ['lease', 'config', 'baseline', 'fetch', 'drift', 'quarantine', 'merge', 'push', 'verify-push', 'deploy-command', 'manifest'] as const;

export const deployFailed = defineMessage({
  type: 'deploy.failed',
  kind: 'event',
  subject: eventSubject('deploy.failed'),
  description: 'The deploy stopped at `stage`; `pushed` says whether the merge reached the remote.',
  schema: z.object({
    ...deployment,
    /** Absent when the service is not in the registry. */
    branch: gitRef.optional(),
    stage: z.enum(DeployStages),
    error: outsideText(),
    /** The end of the deploy command's stderr. */
    stderr: outsideText({ keep: 'end' }).optional(),
    exitCode: z.number().int().nullable().optional(),
    mergeCommit: commitSha.optional(),
    previousCommit: commitSha.optional(),
    pushed: z.boolean(),
  }),
});
