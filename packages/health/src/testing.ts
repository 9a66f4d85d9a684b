import { sortFollowups, type FollowupRecord, type FollowupStore } from './followups.ts';
import { checked, EVIDENCE_KINDS, newestEvidence, type Evidence, type EvidenceKind, type EvidenceWindow, type HealthEvidenceStore, type Outage } from './evidence.ts';

/**
 * @agentbus/health/testing: what only tests need. A HealthEvidenceStore in memory with the
 * contracts of the one in its KV bucket: one entry per service and kind of evidence, `latest`
 * the newest by when its probes began (the same selection), one outage per service. Values are
 * copied in and out, as a store would.
 */
export function memoryEvidenceStore(): HealthEvidenceStore & { readonly recorded: Array<{ service: string; evidence: Evidence }> } {
  const evidence = new Map<string, string>();
  const outages = new Map<string, string>();
  const recorded: Array<{ service: string; evidence: Evidence }> = [];
  const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
  return {
    recorded,
    record(service: string, entry: Evidence): Promise<void> {
      evidence.set(`${checked(service)}.${entry.source}`, JSON.stringify(entry));
      recorded.push({ service, evidence: copy(entry) });
      return Promise.resolve();
    },
    latest(service: string, window: EvidenceWindow = {}): Promise<Evidence | undefined> {
      const found = EVIDENCE_KINDS.map((kind: EvidenceKind) => evidence.get(`${checked(service)}.${kind}`)).map((stored) => (stored === undefined ? undefined : (JSON.parse(stored) as Evidence)));
      return Promise.resolve(newestEvidence(found, window));
    },
    outage(service: string): Promise<Outage | undefined> {
      const stored = outages.get(checked(service));
      return Promise.resolve(stored === undefined ? undefined : (JSON.parse(stored) as Outage));
    },
    setOutage(service: string, outage: Outage | undefined): Promise<void> {
      if (outage) outages.set(checked(service), JSON.stringify(outage));
      else outages.delete(checked(service));
      return Promise.resolve();
    },
  };
}

/** A FollowupStore in memory (records copied in and out); `cancel` marks the record, as the KV one does (there is no timer to delete). */
export function memoryFollowupStore(): FollowupStore {
  const records = new Map<string, string>();
  const key = (service: string, deploymentId: string, n: number) => `${checked(service)} ${deploymentId} ${n}`;
  const store: FollowupStore = {
    put(record) {
      records.set(key(record.service, record.deploymentId, record.n), JSON.stringify(record));
      return Promise.resolve();
    },
    get(service, deploymentId, n) {
      const stored = records.get(key(service, deploymentId, n));
      return Promise.resolve(stored === undefined ? undefined : (JSON.parse(stored) as FollowupRecord));
    },
    list(service) {
      const all = [...records.values()].map((stored) => JSON.parse(stored) as FollowupRecord);
      return Promise.resolve(sortFollowups(all.filter((record) => !service || record.service === service)));
    },
    async cancel(record, how) {
      const cancelled: FollowupRecord = { ...record, status: 'cancelled', finishedAt: new Date().toISOString(), detail: how.detail, ...(how.supersededBy ? { supersededBy: how.supersededBy } : {}) };
      await store.put(cancelled);
      return cancelled;
    },
  };
  return store;
}
