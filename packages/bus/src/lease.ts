import type { NatsConnection } from '@nats-io/transport-node';
import { AgentbusError } from '@agentbus/contracts';
import { backoff } from './backoff.ts';
import { isWrongLastSequence } from './errors.ts';
import { Bucket } from './kv.ts';

/** The KV bucket of per-resource leases (created by `agentbus streams apply`). */
export const LEASE_BUCKET = 'AGENTBUS_LEASES';

/** Who holds one epoch of a lease, and until when. */
export interface LeaseRecord {
  holder: string;
  /** The work the lease is for (a deployment id): the same owner may take its own lease again. */
  owner: string;
  acquiredAt: string;
  expiresAt: string;
}

/** A lease held on one resource; release() it when done. */
export interface HeldLease {
  resource: string;
  epoch: number;
  owner: string;
  expiresAt: Date;
  /**
   * Ends the lease. Returns `conflict` when, before the release, someone else took the resource
   * over (this lease had expired): two agents acted on the same resource — escalate.
   */
  release(): Promise<{ conflict: false } | { conflict: true; takenBy: LeaseRecord & { epoch: number } }>;
}

export class LeaseBusyError extends AgentbusError {
  constructor(resource: string, holder: LeaseRecord, epoch: number) {
    super('lease-busy', `${resource} is leased to ${holder.holder} for ${holder.owner} until ${holder.expiresAt}`, {
      retryable: true,
      hint: 'wait for the other deploy to finish; a lease left by a crashed holder expires by itself',
      details: { resource, epoch, ...holder },
    });
  }
}

export const LEASE_RESOURCE = /^[A-Za-z0-9_-]+$/;

export interface LeaseAcquireOptions {
  ttlMs: number;
  maxWaitMs: number;
  /** The first wait between two looks. @default 250 */
  pollMs?: number;
  onWait?: (busy: LeaseBusyError) => void;
  signal?: AbortSignal;
}

/**
 * Leases as the agents use them: one deploy per service at a time, handed from agent to agent
 * under one owner (the deployment id). LeaseManager.open gives the one on NATS KV (below);
 * @agentbus/bus/testing has one in memory for unit tests.
 */
export interface LeaseManager {
  /** Takes the lease now, or throws LeaseBusyError (retryable) naming the holder. The same owner gets its own unexpired lease back. */
  tryAcquire(resource: string, owner: string, ttlMs: number): Promise<HeldLease>;
  /** Waits for the lease (see waitForLease); gives up with LeaseBusyError after `maxWaitMs`. */
  acquire(resource: string, owner: string, options: LeaseAcquireOptions): Promise<HeldLease>;
  /** Ends the current lease on `resource` if `owner` holds it; false when it does not (released, expired and taken over, or never). */
  releaseIfOwner(resource: string, owner: string): Promise<boolean>;
}

export const LeaseManager = {
  /** The lease manager on the lease bucket (created by `agentbus streams apply`), writing as `holder`. */
  open: (nc: NatsConnection, holder: string, bucket = LEASE_BUCKET): Promise<LeaseManager> => KvLeaseManager.open(nc, holder, bucket),
};

/**
 * Polls `tryAcquire` until it succeeds (`pollMs` at first, then less often: at most every 2 s),
 * calling `onWait` while it waits (e.g. to send in-progress acks and say who holds it). Gives up
 * with the LeaseBusyError after `maxWaitMs`, or at once when `signal` is aborted.
 */
export async function waitForLease(tryAcquire: () => Promise<HeldLease>, options: LeaseAcquireOptions): Promise<HeldLease> {
  const deadline = Date.now() + options.maxWaitMs;
  for (let waits = 0; ; waits++) {
    try {
      return await tryAcquire();
    } catch (error) {
      if (!(error instanceof LeaseBusyError) || Date.now() >= deadline || options.signal?.aborted) throw error;
      options.onWait?.(error);
      // Every look lists the resource's epochs: many waiters back off to a look every 2 s.
      await backoff(waits + 1, { baseMs: options.pollMs ?? 250, maxMs: 2_000, maxDoublings: 3 });
    }
  }
}

/**
 * Mutual exclusion per resource (one deploy per service at a time) built only from create-only
 * KV keys, which are safe on replicated streams on nats-server 2.9.10 (`kv.update` is not):
 * - a lease is an epoch: `lease.<resource>.<n>`; taking the resource means creating epoch n+1,
 *   and `kv.create` lets exactly one contender win it;
 * - release writes `release.<resource>.<n>`; an expired, unreleased epoch may be taken over;
 * - the same owner (e.g. a redelivered deploy task) gets its own unexpired lease back, which also
 *   lets one piece of work hand its lease from agent to agent (owner = the deployment id).
 * Keys are never deleted or overwritten (they expire with the bucket's max age).
 */
class KvLeaseManager implements LeaseManager {
  private constructor(
    private readonly kv: Bucket,
    private readonly holder: string,
  ) {}

  static async open(nc: NatsConnection, holder: string, bucket: string): Promise<KvLeaseManager> {
    try {
      return new KvLeaseManager(await Bucket.open(nc, bucket), holder);
    } catch (error) {
      throw new AgentbusError('lease-bucket-missing', `the lease bucket ${bucket} is not available`, { cause: error, retryable: true, hint: 'create it with `agentbus streams apply`' });
    }
  }

  private async latest(resource: string): Promise<{ epoch: number; record: LeaseRecord; released: boolean } | undefined> {
    let epoch = 0;
    for (const key of await this.kv.keys(`lease.${resource}.*`)) epoch = Math.max(epoch, Number(key.split('.').pop()));
    if (epoch === 0) return undefined;
    const entry = await this.kv.get(`lease.${resource}.${epoch}`);
    if (!entry || entry.operation !== 'PUT') return undefined;
    const released = await this.kv.get(`release.${resource}.${epoch}`);
    return { epoch, record: entry.json<LeaseRecord>(), released: released !== null && released.operation === 'PUT' };
  }

  /** Takes the lease now, or throws LeaseBusyError (retryable) naming the holder. */
  async tryAcquire(resource: string, owner: string, ttlMs: number): Promise<HeldLease> {
    if (!LEASE_RESOURCE.test(resource)) throw new AgentbusError('lease-resource-invalid', `"${resource}" cannot be a lease name`, { hint: 'letters, digits, _ and -' });
    for (;;) {
      const current = await this.latest(resource);
      const now = Date.now();
      if (current && !current.released && Date.parse(current.record.expiresAt) > now) {
        if (current.record.owner !== owner) throw new LeaseBusyError(resource, current.record, current.epoch);
        return this.held(resource, current.epoch, current.record);
      }
      const epoch = (current?.epoch ?? 0) + 1;
      const record: LeaseRecord = { holder: this.holder, owner, acquiredAt: new Date(now).toISOString(), expiresAt: new Date(now + ttlMs).toISOString() };
      try {
        await this.kv.create(`lease.${resource}.${epoch}`, JSON.stringify(record));
        return this.held(resource, epoch, record);
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error;
        // Someone else created this epoch first: look again.
      }
    }
  }

  acquire(resource: string, owner: string, options: LeaseAcquireOptions): Promise<HeldLease> {
    return waitForLease(() => this.tryAcquire(resource, owner, options.ttlMs), options);
  }

  /** How the last agent of a handed-over piece of work (a deployment: deployer → health monitor → rollback) frees the resource. */
  async releaseIfOwner(resource: string, owner: string): Promise<boolean> {
    const current = await this.latest(resource);
    if (!current || current.released || current.record.owner !== owner) return false;
    await this.held(resource, current.epoch, current.record).release();
    return true;
  }

  private held(resource: string, epoch: number, record: LeaseRecord): HeldLease {
    return {
      resource,
      epoch,
      owner: record.owner,
      expiresAt: new Date(record.expiresAt),
      release: async () => {
        try {
          await this.kv.create(`release.${resource}.${epoch}`, JSON.stringify({ holder: this.holder, releasedAt: new Date().toISOString() }));
        } catch (error) {
          if (!isWrongLastSequence(error)) throw error;
        }
        const next = await this.kv.get(`lease.${resource}.${epoch + 1}`);
        if (next && next.operation === 'PUT') {
          const takenBy = next.json<LeaseRecord>();
          if (takenBy.owner !== record.owner) return { conflict: true, takenBy: { ...takenBy, epoch: epoch + 1 } };
        }
        return { conflict: false };
      },
    };
  }
}
