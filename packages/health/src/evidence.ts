import type { NatsConnection } from '@nats-io/transport-node';
import { Bucket } from '@agentbus/bus';
import { AgentbusError, baselineSchema, isoTime, type Baseline, type EvidenceKinds } from '@agentbus/contracts';
import { z } from 'zod';
import { toCheckResults } from './check-results.ts';
import type { HealthReport } from './probe-run.ts';

/** The KV bucket of health evidence (created by `agentbus streams apply`). */
export const HEALTH_EVIDENCE_BUCKET = 'AGENTBUS_HEALTH';

export type EvidenceKind = (typeof EvidenceKinds)[number];

/** An unhealthy stretch of one service, as the watch saw it (shared by every health monitor). */
export const outageSchema = z.object({
  since: isoTime,
  incidentId: z.string().min(1),
  escalated: z.boolean(),
});
export type Outage = z.infer<typeof outageSchema>;

const evidenceSchema = baselineSchema.extend({ finishedAt: isoTime });
/** One piece of evidence of a service's health: a Baseline plus when its probes ended. */
export type Evidence = Baseline & { source: EvidenceKind; finishedAt: string };

const SERVICE = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** Options of HealthEvidenceStore.latest: the window the evidence's probes lie in (ms since the epoch). */
export interface EvidenceWindow {
  /** The probes began at or after this. */
  notBefore?: number;
  /** The probes finished by this. */
  finishedBy?: number;
}

/** The evidence of each kind a store holds for a service, in no order. */
export const EVIDENCE_KINDS: readonly EvidenceKind[] = ['watch', 'verdict', 'rollback', 'deploy-probe'];

/** The newest (by when its probes began) of `found` inside `window`. */
export function newestEvidence(found: ReadonlyArray<(Baseline & { finishedAt: string }) | undefined>, window: EvidenceWindow = {}): Evidence | undefined {
  return found
    .filter((e): e is Evidence => e !== undefined)
    .filter((e) => Date.parse(e.checkedAt) >= (window.notBefore ?? -Infinity) && Date.parse(e.finishedAt) <= (window.finishedBy ?? Infinity))
    .sort((a, b) => Date.parse(b.checkedAt) - Date.parse(a.checkedAt))[0];
}

/**
 * What each service's health was last seen to be, shared by every agent that probes it (the
 * contracts are those of the store in its KV bucket, below). HealthEvidenceStore.open gives that
 * one; @agentbus/health/testing has one in memory for unit tests.
 */
export interface HealthEvidenceStore {
  /** Keeps `evidence` as the latest of its kind (`evidence.source`) for `service`. */
  record(service: string, evidence: Evidence): Promise<void>;
  /** The newest evidence of `service` of any kind inside `window`, if any. */
  latest(service: string, window?: EvidenceWindow): Promise<Evidence | undefined>;
  /** The outage of `service` the watch is tracking, if any. */
  outage(service: string): Promise<Outage | undefined>;
  /** Starts, changes or (undefined) ends the outage of `service`. */
  setOutage(service: string, outage: Outage | undefined): Promise<void>;
}

export const HealthEvidenceStore = {
  /** The store in its KV bucket (created by `agentbus streams apply`). */
  open: (nc: NatsConnection, bucket = HEALTH_EVIDENCE_BUCKET): Promise<HealthEvidenceStore> => KvHealthEvidenceStore.open(nc, bucket),
};

/**
 * What each service's health was last seen to be, shared by every agent that probes it: the
 * health monitor's watch samples and verdicts, the rollback agent's re-probe after a rollback,
 * the deployer's own probe. The deployer reads it when a deployment begins: its baseline.
 *
 * Contracts:
 * - one key per service and kind of evidence (`evidence.<service>.<kind>`), so a late write of
 *   one kind (a watch sample that finished after a rollback) never hides a newer one of another;
 *   `latest` picks the newest by the time its probes began;
 * - each kind has one writer at a time: the watch is one timer (one prober), verdicts and
 *   rollbacks run under the deployment's lease; plain puts are therefore safe, also on R3;
 * - the outage of a service (`outage.<service>`) is written by the watch only.
 * Entries that do not parse are treated as absent (a reader never fails on them).
 */
class KvHealthEvidenceStore implements HealthEvidenceStore {
  private constructor(private readonly kv: Bucket) {}

  static async open(nc: NatsConnection, bucket: string): Promise<KvHealthEvidenceStore> {
    try {
      return new KvHealthEvidenceStore(await Bucket.open(nc, bucket));
    } catch (error) {
      throw new AgentbusError('evidence-bucket-missing', `the health evidence bucket ${bucket} is not available`, { cause: error, retryable: true, hint: 'create it with `agentbus streams apply`' });
    }
  }

  async record(service: string, evidence: Evidence): Promise<void> {
    await this.kv.put(`evidence.${checked(service)}.${evidence.source}`, JSON.stringify(evidence));
  }

  async latest(service: string, window: EvidenceWindow = {}): Promise<Evidence | undefined> {
    const found = await Promise.all(EVIDENCE_KINDS.map((kind) => this.read(`evidence.${checked(service)}.${kind}`, evidenceSchema)));
    return newestEvidence(found, window);
  }

  async outage(service: string): Promise<Outage | undefined> {
    return this.read(`outage.${checked(service)}`, outageSchema);
  }

  async setOutage(service: string, outage: Outage | undefined): Promise<void> {
    const key = `outage.${checked(service)}`;
    if (outage) await this.kv.put(key, JSON.stringify(outage));
    else if (await this.outage(service)) await this.kv.delete(key);
  }

  private read<T>(key: string, schema: z.ZodType<T>): Promise<T | undefined> {
    return this.kv.getParsed(key, schema);
  }

}

/** A service name as the store's keys take it; throws AgentbusError `invalid-service` otherwise. */
export function checked(service: string): string {
  if (!SERVICE.test(service)) throw new AgentbusError('invalid-service', `"${service}" is not a service name`, { hint: 'lower-case letters, digits, - and _' });
  return service;
}

/** A probe run as evidence of the given kind (checkedAt: when its probes began). */
export function evidenceOf(report: HealthReport, source: EvidenceKind, deploymentId?: string): Evidence {
  return {
    healthy: report.healthy,
    checkedAt: report.startedAt,
    finishedAt: new Date(Date.parse(report.startedAt) + report.timing.totalMs).toISOString(),
    checks: toCheckResults(report),
    source,
    ...(deploymentId ? { deploymentId } : {}),
  };
}

/** The health evidence as a service resource (@agentbus/runtime's ServiceResource): no variables; the bucket on the service's NATS. */
export const evidenceResource = {
  env: z.object({}),
  open: (_env: unknown, ctx: { nc: NatsConnection }): Promise<HealthEvidenceStore> => HealthEvidenceStore.open(ctx.nc),
};
