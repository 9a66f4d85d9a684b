import { z } from 'zod';
import { describeError, escalation, escalationKey, releaseManifestPath, releaseManifestSchema, type AgentbusRegistry, type ReleaseManifest } from '@agentbus/contracts';
import { LeaseBusyError, type Bucket, type Handler, type HandlerContext, type LeaseManager } from '@agentbus/bus';
import { scanDrift, type DriftFinding, type FleetService } from '@agentbus/fleet';
import { isStateNotFound, type StateStore } from '@agentbus/state';

export interface DriftScanDeps {
  fleet: { services: readonly FleetService[] };
  state: StateStore;
  leases: LeaseManager;
  /** The watchdog's bucket: the drifts told and not yet resolved (`drift.<service>.<kind>`). */
  bucket: Bucket;
  intervalMs: number;
}

const openDriftSchema = z.object({ service: z.string(), kind: z.string(), summary: z.string(), evidence: z.record(z.string(), z.unknown()), evidenceKey: z.string(), since: z.string() });
type OpenDrift = z.infer<typeof openDriftSchema>;

const driftKey = (service: string, kind: string) => `drift.${service}.${kind}`;
/** A scan that found drift holds the service's lease for this long at most, to confirm it. */
const SCAN_LEASE_MS = 30_000;

/**
 * schedule.drift-scan: every service's production clone, scanned (scanDrift); drift is confirmed
 * while nobody deploys it (a service whose lease is held is scanned at the next round). A drift not told yet, or whose
 * evidence changed, is told once: drift.detected and a `drift` escalation; a drift a later scan no
 * longer finds is told as drift.resolved and escalation.resolved. Then the timer is rescheduled.
 */
export function driftScanHandler(deps: DriftScanDeps): Handler<AgentbusRegistry, 'schedule.drift-scan'> {
  return async (_timer, ctx) => {
    for (const service of deps.fleet.services) {
      try {
        await scanService(deps, service, ctx);
      } catch (error) {
        if (error instanceof LeaseBusyError) ctx.log.debug({ service: service.name }, 'drift scan: the service is being deployed; scanned next round');
        else ctx.log.error({ service: service.name, err: describeError(error) }, `drift scan of ${service.name} could not run`);
      }
      ctx.working();
    }
    if (deps.intervalMs > 0) ctx.redeliverIn(deps.intervalMs);
  };
}

async function manifestOf(state: StateStore, service: string): Promise<ReleaseManifest | undefined> {
  try {
    return releaseManifestSchema.parse((await state.getVerified(releaseManifestPath(service))).data);
  } catch (error) {
    if (isStateNotFound(error)) return undefined;
    throw error; // a tampered manifest is the integrity sweep's to tell; no drift judged on it
  }
}

/**
 * A clean clone is scanned without the lease (a scanner that dies holds nothing a deploy waits
 * for); drift is confirmed under the lease, so a deploy half-way through its merge is never
 * reported (its lease is held: the service is scanned again next round).
 */
async function scanService(deps: DriftScanDeps, service: FleetService, ctx: HandlerContext<AgentbusRegistry>): Promise<void> {
  let findings = await scanDrift(service, await manifestOf(deps.state, service.name));
  if (findings.length) {
    const lease = await deps.leases.tryAcquire(service.name, `drift-scan.${service.name}`, SCAN_LEASE_MS);
    try {
      findings = await scanDrift(service, await manifestOf(deps.state, service.name));
    } finally {
      await lease.release().catch(() => {});
    }
  }
  const now = new Date().toISOString();
  const found = new Map(findings.map((finding) => [finding.kind as string, finding]));
  for (const finding of findings) {
    const told = await deps.bucket.getParsed(driftKey(service.name, finding.kind), openDriftSchema);
    if (told?.evidenceKey === finding.evidenceKey) continue;
    const drift: OpenDrift = { service: service.name, kind: finding.kind, summary: finding.summary, evidence: finding.evidence, evidenceKey: finding.evidenceKey, since: told?.since ?? now };
    const incident = `drift.${service.name}.${finding.kind}.${Date.parse(drift.since)}`;
    await ctx.publish('drift.detected', { service: drift.service, kind: finding.kind, summary: drift.summary, evidence: drift.evidence, since: drift.since }, { id: `${incident}.${finding.evidenceKey}`, correlationId: incident });
    const raised = escalation({ kind: 'drift', severity: 'error', service: service.name, summary: finding.summary, details: { kind: finding.kind, ...finding.evidence }, about: [service.name, finding.kind], occurrence: [service.name, finding.kind, finding.evidenceKey] });
    await ctx.publish('escalation.raised', raised.data, { id: raised.id, correlationId: incident });
    await deps.bucket.put(driftKey(service.name, finding.kind), JSON.stringify(drift));
    ctx.log.error({ service: service.name, kind: finding.kind }, `drift: ${finding.summary}`);
  }
  for (const key of await deps.bucket.keys(`drift.${service.name}.*`)) {
    const told = await deps.bucket.getParsed(key, openDriftSchema);
    if (!told || found.has(told.kind)) continue;
    const incident = `drift.${service.name}.${told.kind}.${Date.parse(told.since)}`;
    await ctx.publish('drift.resolved', { service: told.service, kind: told.kind as DriftFinding['kind'], summary: told.summary, evidence: told.evidence, since: told.since, resolvedAt: now }, { id: `${incident}.resolved`, correlationId: incident });
    await ctx.publish('escalation.resolved', { dedupKey: escalationKey('drift', [service.name, told.kind]), service: service.name, summary: `resolved: ${told.summary}`.slice(0, 1_024) }, { id: `${incident}.escalation-resolved`, correlationId: incident });
    await deps.bucket.delete(key);
    ctx.log.info({ service: service.name, kind: told.kind }, `drift resolved: ${told.summary}`);
  }
}
