import { AgentbusError, createEnvelope, type AnyEnvelopeOf, type DataInput, type EnvelopeOf, type MessageTypeOf, type Registry } from '@agentbus/contracts';
import { willBeRetried, type BusLogger, type DeliveryInfo, type Handler, type HandlerContext, type Outcome } from './consumer.ts';
import { LEASE_RESOURCE, LeaseBusyError, waitForLease, type HeldLease, type LeaseAcquireOptions, type LeaseManager, type LeaseRecord } from './lease.ts';
import type { PublishOptions, PublishResult } from './publisher.ts';

/**
 * @agentbus/bus/testing: what only tests need. A handler's context without NATS (Keptn's fake
 * runtime), so that a handler's decisions are table-tested in the unit tier: it records what the
 * handler publishes, which steps it runs and how the delivery ends. Only the bus is faked; the
 * handler's own dependencies are fakes of their interfaces (each in its owner's testing entry).
 */

export interface FakeHandlerContextOptions {
  /** Where the delivery stands. @default first delivery of 5, stream seq 1, not resent */
  delivery?: Partial<DeliveryInfo>;
  /**
   * Steps already recorded in the idempotency ledger, by name, with the value they returned: a
   * redelivery after they ran. step() answers them without running them, as the ledger does.
   */
  ledger?: Record<string, unknown>;
  /** The name the published envelopes carry as their source. @default 'test' */
  source?: string;
  /** The runner is stopping (`signal` aborted) from the start. @default false */
  stopping?: boolean;
}

/** One log line the handler wrote. */
export interface LoggedLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: object;
  msg: string | undefined;
}

/** One step() call: `ran` false when the ledger answered it (done on an earlier delivery). */
export interface RecordedStep {
  name: string;
  ran: boolean;
}

/**
 * The HandlerContext the runtime hands a handler, kept in memory. publish() validates and wraps
 * the data as the publisher does (an invalid message throws MessageValidationError), caused by
 * the trigger (same correlationId), and keeps the envelope in `published`; a second publish with
 * the same id is a duplicate, as the stream's dedup window makes it (kept in `duplicates` only).
 */
export class FakeHandlerContext<R extends Registry> implements HandlerContext<R> {
  readonly delivery: DeliveryInfo;
  readonly log: BusLogger;
  readonly signal: AbortSignal;
  /** Every message published and stored, in order (narrow each by its `type`). */
  readonly published: Array<AnyEnvelopeOf<R>> = [];
  /** Publishes the stream would drop: their id was published before. */
  readonly duplicates: Array<AnyEnvelopeOf<R>> = [];
  /** Every step() call, in order. */
  readonly steps: RecordedStep[] = [];
  /** The idempotency ledger of this message: step name → its value (pre-filled: a redelivery). */
  readonly ledger: Map<string, unknown>;
  readonly logged: LoggedLine[] = [];
  /** How often the handler said it was still working. */
  workingCalls = 0;
  /** How often the handler gave its slot back to wait (yieldWhile). */
  yields = 0;
  /** Set by redeliverIn(). */
  rescheduleMs: number | undefined;
  private readonly abort = new AbortController();
  private readonly source: string;

  constructor(
    private readonly registry: R,
    private readonly trigger: EnvelopeOf<R, MessageTypeOf<R>>,
    options: FakeHandlerContextOptions = {},
  ) {
    this.delivery = { stream: 'TEST', consumer: 'test', streamSeq: 1, deliveryCount: 1, maxDeliver: 5, resent: false, ...options.delivery };
    this.ledger = new Map(Object.entries(options.ledger ?? {}));
    this.source = options.source ?? 'test';
    this.signal = this.abort.signal;
    if (options.stopping) this.abort.abort();
    const line = (level: LoggedLine['level']) => (obj: object, msg?: string) => void this.logged.push({ level, obj, msg });
    this.log = { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
  }

  async publish<T extends MessageTypeOf<R>>(type: T, data: DataInput<R, T>, options: Omit<PublishOptions, 'causedBy'> = {}): Promise<PublishResult> {
    const envelope = createEnvelope(this.registry, type, data, { ...options, causedBy: this.trigger, source: this.source }) as unknown as AnyEnvelopeOf<R>;
    const duplicate = this.published.some((earlier) => earlier.id === envelope.id);
    (duplicate ? this.duplicates : this.published).push(envelope);
    return { id: envelope.id, type, subject: `test.${type}`, stream: 'TEST', seq: this.published.length, duplicate };
  }

  /** Every stored message of `type`, in order. */
  publishedOf<T extends MessageTypeOf<R>>(type: T): Array<EnvelopeOf<R, T>> {
    return this.published.filter((envelope) => envelope.type === type) as unknown as Array<EnvelopeOf<R, T>>;
  }

  async step<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
    if (this.ledger.has(name)) {
      this.steps.push({ name, ran: false });
      return this.ledger.get(name) as T;
    }
    this.steps.push({ name, ran: true });
    const value = await fn();
    this.ledger.set(name, value);
    return value;
  }

  working(): void {
    this.workingCalls++;
  }

  redeliverIn(ms: number): void {
    this.rescheduleMs = Math.max(0, Math.round(ms));
  }

  async yieldWhile<T>(wait: () => Promise<T>): Promise<T> {
    this.yields++;
    return wait();
  }

  /** What the runner does when it must stop before the handler finishes. */
  stop(): void {
    this.abort.abort();
  }
}

/** How a delivery handled by runHandler ended, with the handler's error when it threw. */
export type HandlerRun<R extends Registry> = { outcome: Outcome; error?: unknown; ctx: FakeHandlerContext<R> };

/**
 * Runs `handler` on `envelope` as the consumer runner would and says how the delivery ends:
 * `acked`; `rescheduled` (redeliverIn); `retry` for an error that may pass before the last
 * delivery; `dead-lettered` for one that cannot pass, or on the last delivery. (The runner's
 * checks before the handler — validation, the ledger's done mark — are not run: build the
 * envelope with createEnvelope, and pre-fill `ledger` for a redelivery.)
 */
export async function runHandler<R extends Registry, T extends MessageTypeOf<R>>(
  registry: R,
  handler: Handler<R, T>,
  envelope: EnvelopeOf<R, T>,
  options: FakeHandlerContextOptions = {},
): Promise<HandlerRun<R>> {
  const ctx = new FakeHandlerContext(registry, envelope as EnvelopeOf<R, MessageTypeOf<R>>, options);
  try {
    await handler(envelope, ctx);
  } catch (error) {
    return { outcome: willBeRetried(error, ctx.delivery) ? 'retry' : 'dead-lettered', error, ctx };
  }
  return { outcome: ctx.rescheduleMs === undefined ? 'acked' : 'rescheduled', ctx };
}

/**
 * A LeaseManager in memory with the contract of the one on NATS KV: a lease is an epoch per
 * resource; the same owner gets its own unexpired lease back (a handed-over deployment); an
 * expired, unreleased epoch may be taken over, and releasing it then reports the conflict. Every
 * attempt to take a lease is kept in `attempts` (with its ttlMs: how long the caller asked for).
 */
export class MemoryLeaseManager implements LeaseManager {
  readonly attempts: Array<{ resource: string; owner: string; ttlMs: number }> = [];
  private readonly epochs = new Map<string, Array<LeaseRecord & { released: boolean }>>();

  constructor(private readonly holder = 'test') {}

  /** Gives `resource` to `owner` (held by `holder`) as another agent would: how a test makes a lease busy. */
  hold(resource: string, owner: string, ttlMs: number, holder = 'other-agent'): void {
    const now = Date.now();
    this.epochsOf(resource).push({ holder, owner, acquiredAt: new Date(now).toISOString(), expiresAt: new Date(now + ttlMs).toISOString(), released: false });
  }

  /** The current epoch of `resource` (1-based) and its record, if any. */
  current(resource: string): (LeaseRecord & { released: boolean; epoch: number }) | undefined {
    const epochs = this.epochsOf(resource);
    const last = epochs.at(-1);
    return last && { ...last, epoch: epochs.length };
  }

  tryAcquire(resource: string, owner: string, ttlMs: number): Promise<HeldLease> {
    this.attempts.push({ resource, owner, ttlMs });
    if (!LEASE_RESOURCE.test(resource)) return Promise.reject(new AgentbusError('lease-resource-invalid', `"${resource}" cannot be a lease name`, { hint: 'letters, digits, _ and -' }));
    const epochs = this.epochsOf(resource);
    const latest = epochs.at(-1);
    const now = Date.now();
    if (latest && !latest.released && Date.parse(latest.expiresAt) > now) {
      if (latest.owner !== owner) return Promise.reject(new LeaseBusyError(resource, latest, epochs.length));
      return Promise.resolve(this.held(resource, epochs.length));
    }
    epochs.push({ holder: this.holder, owner, acquiredAt: new Date(now).toISOString(), expiresAt: new Date(now + ttlMs).toISOString(), released: false });
    return Promise.resolve(this.held(resource, epochs.length));
  }

  acquire(resource: string, owner: string, options: LeaseAcquireOptions): Promise<HeldLease> {
    return waitForLease(() => this.tryAcquire(resource, owner, options.ttlMs), options);
  }

  async releaseIfOwner(resource: string, owner: string): Promise<boolean> {
    const current = this.current(resource);
    if (!current || current.released || current.owner !== owner) return false;
    await this.held(resource, current.epoch).release();
    return true;
  }

  private epochsOf(resource: string): Array<LeaseRecord & { released: boolean }> {
    let epochs = this.epochs.get(resource);
    if (!epochs) this.epochs.set(resource, (epochs = []));
    return epochs;
  }

  private held(resource: string, epoch: number): HeldLease {
    const epochs = this.epochsOf(resource);
    const record = epochs[epoch - 1]!;
    return {
      resource,
      epoch,
      owner: record.owner,
      expiresAt: new Date(record.expiresAt),
      release: () => {
        record.released = true;
        const next = epochs[epoch];
        if (next && next.owner !== record.owner) {
          const { released: _released, ...takenBy } = next;
          return Promise.resolve({ conflict: true, takenBy: { ...takenBy, epoch: epoch + 1 } });
        }
        return Promise.resolve({ conflict: false });
      },
    };
  }
}
