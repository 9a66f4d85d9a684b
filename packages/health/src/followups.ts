import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { z } from 'zod';
import { Bucket, isMessageNotFound, type HandlerContext } from '@agentbus/bus';
import { AgentbusError, commitSha, FollowupStatuses, followupSubject, isoTime, outsideText, StreamNames, type AgentbusRegistry } from '@agentbus/contracts';
import { checked } from './evidence.ts';

/** The KV bucket of follow-up records (created by `agentbus streams apply`). */
export const FOLLOWUPS_BUCKET = 'AGENTBUS_FOLLOWUPS';

/** One follow-up check of one deployment, as `agentbus followups list` shows it. */
export const followupRecordSchema = z.object({
  service: z.string(),
  deploymentId: z.string().min(1),
  /** The deployment's incident: what its follow-up events are correlated with. */
  correlationId: z.string().min(1),
  mergeCommit: commitSha,
  n: z.number().int().positive(),
  of: z.number().int().positive(),
  offsetMs: z.number().int().positive(),
  dueAt: isoTime,
  scheduledAt: isoTime,
  status: z.enum([FollowupStatuses.pending, FollowupStatuses.passed, FollowupStatuses.failed, FollowupStatuses.inconclusive, FollowupStatuses.cancelled]),
  /** The timer's sequence in AGENT_SCHEDULE (deleted when the follow-up is cancelled). */
  timerSeq: z.number().int().positive().optional(),
  firedAt: isoTime.optional(),
  finishedAt: isoTime.optional(),
  /** What it found, or why it was cancelled. */
  detail: outsideText({ max: 1_000 }).optional(),
  supersededBy: z.string().optional(),
});
export type FollowupRecord = z.output<typeof followupRecordSchema>;

/**
 * Every follow-up scheduled, pending or done, shared by the health monitor (which schedules and
 * runs them) and the rollback agent (whose rollback cancels the rolled-back deployment's). Kept
 * 8 days: the last follow-up is at most 7 days after its deploy.
 */
export interface FollowupStore {
  put(record: FollowupRecord): Promise<void>;
  get(service: string, deploymentId: string, n: number): Promise<FollowupRecord | undefined>;
  /** Every record (of one service), oldest due first. */
  list(service?: string): Promise<FollowupRecord[]>;
  /**
   * Marks a pending follow-up cancelled and deletes its timer, so it never fires and frees its
   * place among the consumer's pending messages. (Firing re-checks anyway: a follow-up whose
   * deployment is no longer current is cancelled then.)
   */
  cancel(record: FollowupRecord, how: { detail: string; supersededBy?: string }): Promise<FollowupRecord>;
}

/** `followup.<service>.<deployment token>.<n>`: the deployment named as in its timer's subject. */
function keyOf(service: string, deploymentId: string, n: number): string {
  const token = followupSubject(deploymentId, n).split('.').slice(2, -1).join('.');
  return `followup.${checked(service)}.${token}.${n}`;
}

export function sortFollowups(records: FollowupRecord[]): FollowupRecord[] {
  return records.sort((a, b) => a.dueAt.localeCompare(b.dueAt) || a.service.localeCompare(b.service) || a.n - b.n);
}

class KvFollowupStore implements FollowupStore {
  private constructor(
    private readonly kv: Bucket,
    private readonly nc: NatsConnection,
  ) {}

  static async open(nc: NatsConnection, bucket: string): Promise<KvFollowupStore> {
    try {
      return new KvFollowupStore(await Bucket.open(nc, bucket), nc);
    } catch (error) {
      throw new AgentbusError('followups-bucket-missing', `the follow-ups bucket ${bucket} is not available`, { cause: error, retryable: true, hint: 'create it with `agentbus streams apply`' });
    }
  }

  async put(record: FollowupRecord): Promise<void> {
    await this.kv.put(keyOf(record.service, record.deploymentId, record.n), JSON.stringify(record));
  }

  async get(service: string, deploymentId: string, n: number): Promise<FollowupRecord | undefined> {
    return this.read(keyOf(service, deploymentId, n));
  }

  async list(service?: string): Promise<FollowupRecord[]> {
    const keys = await this.kv.keys(service ? `followup.${checked(service)}.>` : 'followup.>');
    const records = await Promise.all(keys.map((key) => this.read(key)));
    return sortFollowups(records.filter((record): record is FollowupRecord => record !== undefined));
  }

  async cancel(record: FollowupRecord, how: { detail: string; supersededBy?: string }): Promise<FollowupRecord> {
    const cancelled: FollowupRecord = { ...record, status: FollowupStatuses.cancelled, finishedAt: new Date().toISOString(), detail: how.detail, ...(how.supersededBy ? { supersededBy: how.supersededBy } : {}) };
    await this.put(cancelled);
    if (record.timerSeq !== undefined) {
      try {
        await (await jetstreamManager(this.nc)).streams.deleteMessage(StreamNames.schedule, record.timerSeq, false);
      } catch (error) {
        // Gone already (it fired, or a rollback and a newer deploy both cancelled it): nothing to delete.
        if (!isMessageNotFound(error)) throw error;
      }
    }
    return cancelled;
  }

  private read(key: string): Promise<FollowupRecord | undefined> {
    return this.kv.getParsed(key, followupRecordSchema);
  }

}

/**
 * Cancels the pending follow-ups of `service` that `select` names — one deployment's (a rollback),
 * or every one but the newest deployment's (a newer deploy supersedes them) — and announces each
 * as followup.cancelled. The one way follow-ups are cancelled, for the health monitor and the
 * rollback agent alike. Returns the cancelled records.
 */
export async function cancelPendingFollowups(
  store: FollowupStore,
  ctx: Pick<HandlerContext<AgentbusRegistry>, 'publish'>,
  select: { service: string; deploymentId?: string; exceptDeploymentId?: string },
  how: { reason: 'superseded' | 'rolled-back' | 'tampered-state'; detail: string; supersededBy?: string },
): Promise<FollowupRecord[]> {
  const pending = (await store.list(select.service)).filter(
    (record) =>
      record.status === FollowupStatuses.pending &&
      (select.deploymentId === undefined || record.deploymentId === select.deploymentId) &&
      (select.exceptDeploymentId === undefined || record.deploymentId !== select.exceptDeploymentId),
  );
  const cancelled: FollowupRecord[] = [];
  for (const record of pending) {
    cancelled.push(await store.cancel(record, how));
    const { service, deploymentId, mergeCommit, n, offsetMs, dueAt } = record;
    await ctx.publish(
      'followup.cancelled',
      { service, deploymentId, mergeCommit, n, offsetMs, dueAt, reason: how.reason, detail: how.detail, ...(how.supersededBy ? { supersededBy: how.supersededBy } : {}) },
      { id: `${deploymentId}.followup.${n}.cancelled`, correlationId: record.correlationId },
    );
  }
  return cancelled;
}

export const FollowupStore = {
  /** The store in its KV bucket (created by `agentbus streams apply`). */
  open: (nc: NatsConnection, bucket = FOLLOWUPS_BUCKET): Promise<FollowupStore> => KvFollowupStore.open(nc, bucket),
};

/** The follow-up records as a service resource: no variables; the bucket on the service's NATS. */
export const followupsResource = {
  env: z.object({}),
  open: (_env: unknown, ctx: { nc: NatsConnection }): Promise<FollowupStore> => FollowupStore.open(ctx.nc),
};
