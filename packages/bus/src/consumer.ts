import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { jetstream, type Consumer, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import {
  belongsOn,
  describeError,
  getDefinition,
  isAgentbusError,
  isRetryableFailure,
  isMessageValidationError,
  decodeEnvelope,
  validateData,
  type DataInput,
  type EnvelopeOf,
  type MessageTypeOf,
  type Registry,
} from '@agentbus/contracts';
import { backoff } from './backoff.ts';
import { TRANSIENT_RETRY_BACKOFF } from './retry.ts';
import { BusError, isConsumerNotFound, isStreamNotFound, isTransientNatsError } from './errors.ts';
import { Headers, headerValue, msgIdNamesEnvelope } from './headers.ts';
import { deadLetter, DeadLetterReasons, type DeadLetterReason } from './dead-letter.ts';
import { KeepAlive } from './keep-alive.ts';
import { watchMaxDeliveries } from './max-deliveries.ts';
import { SettleBatch } from './settle-batch.ts';
import type { IdempotencyLedger } from './ledger.ts';
import type { Publisher, PublishOptions, PublishResult } from './publisher.ts';

/** Minimal structured logger (pino-compatible). */
export interface BusLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  /** When present, each delivery logs through a child carrying its correlationId and message id. */
  child?(bindings: Record<string, unknown>): BusLogger;
}

export const silentLogger: BusLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Where one delivery stands. */
export interface DeliveryInfo {
  stream: string;
  consumer: string;
  streamSeq: number;
  deliveryCount: number;
  maxDeliver: number;
  /** Re-sent by replay or redrive (carries the provenance header). */
  resent: boolean;
}

/**
 * Whether a delivery that failed with `error` will be delivered again: the error may pass
 * (isRetryableFailure) and this was not the consumer's last delivery. How the runner ends a failed
 * delivery (nak or dead letter), and how a handler knows its failure is final (to tell someone
 * before it is dead-lettered).
 */
export function willBeRetried(error: unknown, delivery: Pick<DeliveryInfo, 'deliveryCount' | 'maxDeliver'>): boolean {
  return isRetryableFailure(error) && delivery.deliveryCount < delivery.maxDeliver;
}

export interface HandlerContext<R extends Registry> {
  delivery: DeliveryInfo;
  /** Publishes a message caused by the one being handled (same correlationId). */
  publish<T extends MessageTypeOf<R>>(type: T, data: DataInput<R, T>, options?: Omit<PublishOptions, 'causedBy'>): Promise<PublishResult>;
  /**
   * Runs `fn` once per message and step name, across redeliveries and replays (idempotency
   * ledger). A step interrupted before its record was stored runs again: make its last action
   * safe to repeat.
   */
  step<T>(name: string, fn: () => Promise<T> | T): Promise<T>;
  /** Tells the server the handler is still working (done automatically every ack_wait/3). */
  working(): void;
  /**
   * Ends this delivery, once the handler returns, by asking for the same message again after
   * `ms` (nak with that delay) instead of acknowledging it: how a timer's consumer reschedules
   * it (the server keeps the delay across restarts). The message is not marked done.
   */
  redeliverIn(ms: number): void;
  /**
   * Runs `wait` (a wait for something another piece of work holds: a lease) with this handler's
   * concurrency slot given back meanwhile, and takes a slot again before it returns. Waiting uses
   * nothing, and the work that ends the wait may be a message of this very consumer (a redelivered
   * deploy whose lease the others wait for): it must be able to run.
   */
  yieldWhile<T>(wait: () => Promise<T>): Promise<T>;
  /** Aborted when the runner must stop before the handler finishes. */
  signal: AbortSignal;
  log: BusLogger;
}

/** The context of one delivery, handed to its handler. */
class DeliveryContext<R extends Registry> implements HandlerContext<R> {
  constructor(
    private readonly m: JsMsg,
    readonly delivery: DeliveryInfo,
    private readonly envelope: EnvelopeOf<R, MessageTypeOf<R>>,
    private readonly publisher: Publisher<R>,
    private readonly ledger: IdempotencyLedger | false,
    readonly signal: AbortSignal,
    readonly log: BusLogger,
    private readonly slots: Slots,
  ) {}

  async yieldWhile<T>(wait: () => Promise<T>): Promise<T> {
    this.slots.release();
    try {
      return await wait();
    } finally {
      await this.slots.acquire();
    }
  }

  publish<T extends MessageTypeOf<R>>(type: T, data: DataInput<R, T>, options: Omit<PublishOptions, 'causedBy'> = {}): Promise<PublishResult> {
    return this.publisher.publish(type, data, { ...options, causedBy: this.envelope });
  }

  async step<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
    return this.ledger ? this.ledger.step(this.delivery.consumer, this.envelope.id, name, fn) : fn();
  }

  working(): void {
    this.m.working();
  }

  /** Set by redeliverIn(). */
  rescheduleMs: number | undefined;

  redeliverIn(ms: number): void {
    this.rescheduleMs = Math.max(0, Math.round(ms));
  }
}

export type Handler<R extends Registry, T extends MessageTypeOf<R>> = (envelope: EnvelopeOf<R, T>, ctx: HandlerContext<R>) => Promise<void> | void;
export type HandlerMap<R extends Registry> = { [T in MessageTypeOf<R>]?: Handler<R, T> };

export const Outcomes = {
  acked: 'acked',
  retry: 'retry',
  deadLettered: 'dead-lettered',
  skippedDuplicate: 'skipped-duplicate',
  /** A type no handler of this consumer takes, on a consumer whose policy is to skip such types. */
  skippedUnhandled: 'skipped-unhandled',
  /** The handler asked for the message again later (a timer's next round). */
  rescheduled: 'rescheduled',
} as const;
export type Outcome = (typeof Outcomes)[keyof typeof Outcomes];

/**
 * What a consumer does with a message of a known type that none of its handlers takes:
 * - `dead-letter` (a task subject): the message was sent to this consumer to be handled, so not
 *   handling it is a failure: it is dead-lettered with reason `unhandled-type`;
 * - `skip` (a shared events stream): the consumer reads every event and acts on some; the others
 *   are acknowledged and counted (outcome `skipped-unhandled`).
 * Declared per consumer in streams/ (defaulting from its stream), passed by the runtime.
 */
export const UnhandledTypePolicies = { deadLetter: 'dead-letter', skip: 'skip' } as const;
export type UnhandledTypePolicy = (typeof UnhandledTypePolicies)[keyof typeof UnhandledTypePolicies];

export interface ConsumerHooks<R extends Registry> {
  /** A handler is about to run. */
  onStart?(envelope: EnvelopeOf<R, MessageTypeOf<R>>, delivery: DeliveryInfo): void | Promise<void>;
  /** A handler finished (ok) or threw (error, with whether it will be retried). */
  onFinish?(envelope: EnvelopeOf<R, MessageTypeOf<R>>, delivery: DeliveryInfo, result: { ok: true; ms: number } | { ok: false; ms: number; error: unknown; willRetry: boolean }): void | Promise<void>;
  /** Every delivery ends in exactly one outcome. */
  onOutcome?(outcome: Outcome, type: string | undefined, delivery: DeliveryInfo): void;
  /** The runner lost its pull (missed heartbeats, a deleted consumer or stream…) and starts it again. */
  onPullRestart?(reason: PullLostReason): void;
}

/**
 * What the client reports when a pull has lost its place: the server went quiet (a leader moved
 * to another node, a node died, the connection was cut) or the consumer or its stream is gone.
 */
export const PullLostReasons = ['heartbeats_missed', 'consumer_not_found', 'consumer_deleted', 'stream_not_found', 'no_responders'] as const;
export type PullLostReason = (typeof PullLostReasons)[number];
const PULL_LOST: ReadonlySet<string> = new Set(PullLostReasons);

/**
 * How long one pull request waits at the server; the server sends heartbeats at half of it, and
 * two missed ones end it. Short, because a pull held by a node that died (or sent to a consumer
 * without a leader, which drops it without a word) is only found lost by its missing heartbeats,
 * and then pulled again: 2 s finds it within 2–3 s, so the pull reaches the consumer's new leader
 * (elected 4–9 s after the old one died, on 2.9.10) at most about 3 s after it is elected. An
 * idle consumer sends a pull every 2 s.
 */
const PULL_EXPIRES_MS = 2_000;

/**
 * How long binding waits for the consumer's info. A consumer without a leader (its leader's node
 * just died) does not answer at all, so each look waits this long; an answer takes milliseconds.
 */
const BIND_TIMEOUT_MS = 1_000;

export interface ConsumerRunnerOptions<R extends Registry> {
  nc: NatsConnection;
  registry: R;
  publisher: Publisher<R>;
  stream: string;
  /** Durable pull consumer name (created by `agentbus streams apply`, never here). */
  consumer: string;
  handlers: HandlerMap<R>;
  /** A known type none of `handlers` takes: dead-lettered (`unhandled-type`) or skipped and counted. @default 'dead-letter' */
  unhandledTypes?: UnhandledTypePolicy;
  /** Handlers running at once. Default 1. */
  concurrency?: number;
  /** Messages pulled ahead of the handlers. Default 2 × concurrency (keep it small for slow handlers: buffered messages age toward ack_wait). */
  prefetch?: number;
  /** Delay before redelivery after a handler error, by attempt (the last one repeats). */
  retryDelaysMs?: number[];
  /** Skip what was already done on redelivery/replay; `false` turns the ledger off for this consumer. */
  ledger: IdempotencyLedger | false;
  hooks?: ConsumerHooks<R>;
  log?: BusLogger;
  /** How long stop() waits for running handlers before leaving them to redelivery. Default 30 s. */
  shutdownGraceMs?: number;
}

const DEFAULT_RETRY_DELAYS_MS = [1_000, 5_000, 15_000, 30_000];

class Slots {
  private free: number;
  private waiting: Array<() => void> = [];
  constructor(size: number) {
    this.free = size;
  }
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

/**
 * Runs handlers for one durable pull consumer: validate → ledger check → handle → ack.
 *
 * Every delivery ends in exactly one way:
 * - handled: ledger records it done, then ack;
 * - a known type without a handler on this consumer: per `unhandledTypes`, dead-lettered at once
 *   (`unhandled-type`, then term) or acknowledged and counted (`skipped-unhandled`);
 * - already done (redelivery, replay, redrive, the same envelope published again): ack without
 *   running the handler — the ledger is asked on every delivery;
 * - not JSON, not an envelope, unknown type or invalid data: dead-lettered at once, then term;
 * - a type on a subject not its own (`subject-mismatch`), or a Nats-Msg-Id that does not name the
 *   envelope (`id-mismatch`): dead-lettered at once, acted on by no handler;
 * - handler error that may pass (plain errors, retryable AgentbusErrors): nak with the retry
 *   delay, until the delivery count reaches max_deliver; the last failure is dead-lettered;
 * - handler error that cannot pass (AgentbusError with retryable=false): dead-lettered at once.
 * A dead letter that cannot be written leaves the message un-acked (nak), never lost; a worker
 * that dies on the last delivery is caught by the MAX_DELIVERIES advisory, which this runner
 * also watches for its consumer.
 */
export class ConsumerRunner<R extends Registry> {
  private readonly log: BusLogger;
  private readonly concurrency: number;
  private readonly slots: Slots;
  private readonly inflight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private messages: ConsumerMessages | undefined;
  private advisory: Subscription | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private maxDeliver = 5;
  private ackWaitMs = 60_000;
  private readyFlag = false;
  /** Stream sequences of the messages being handled (or waiting for a slot) here. */
  private readonly active = new Set<number>();
  /** True while the loop waits for a free slot (it pulls nothing then, and heartbeats may stop). */
  private waitingForSlot = false;
  /** In-progress acks for the handlers running now. */
  private readonly keepAlive = new KeepAlive<JsMsg>();
  /** Acks and naks wait here for the end of the current turn, then go out in one socket write. */
  private readonly settles = new SettleBatch();

  constructor(private readonly options: ConsumerRunnerOptions<R>) {
    this.log = options.log ?? silentLogger;
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    this.slots = new Slots(this.concurrency);
  }

  /** True once the consumer is bound and messages are being pulled. */
  get ready(): boolean {
    return this.readyFlag && !this.stopping;
  }

  get name(): string {
    return this.options.consumer;
  }

  /** Binds to the consumer (waiting for it to be created if needed) and starts pulling. */
  async start(): Promise<void> {
    const consumer = await this.bind();
    const info = await consumer.info(true);
    this.maxDeliver = info.config.max_deliver && info.config.max_deliver > 0 ? info.config.max_deliver : Number.POSITIVE_INFINITY;
    this.ackWaitMs = Math.max(1_000, Math.round((info.config.ack_wait ?? 30e9) / 1e6));
    this.advisory = watchMaxDeliveries({ nc: this.options.nc, stream: this.options.stream, consumer: this.options.consumer, publisher: this.options.publisher, log: this.log });
    this.keepAlive.start(this.ackWaitMs);
    this.loop = this.consumeLoop(consumer);
  }

  /** Queues an ack/nak/term for the end of this event-loop turn (SettleBatch). */
  private settle(action: () => void): void {
    this.settles.settle(action);
  }

  /**
   * Binds to the consumer, waiting (and saying so) while it does not exist or does not answer (no
   * leader yet): looks BIND_TIMEOUT_MS long each, at most 1 s apart. Other errors are thrown after
   * a few looks.
   */
  private async bind(): Promise<Consumer> {
    const js = jetstream(this.options.nc, { timeout: BIND_TIMEOUT_MS });
    for (let attempt = 1; !this.stopping; attempt++) {
      try {
        return await js.consumers.get(this.options.stream, this.options.consumer);
      } catch (error) {
        if (!isConsumerNotFound(error) && !isStreamNotFound(error) && !isAgentbusError(error) && !isTransientNatsError(error)) {
          if (attempt > 3) throw error;
        }
        if (attempt === 1 || attempt % 20 === 0) {
          this.log.warn(
            { stream: this.options.stream, consumer: this.options.consumer, err: describeError(error) },
            isTransientNatsError(error)
              ? `consumer ${this.options.stream}/${this.options.consumer} does not answer (no leader while a cluster elects one, or a server restarting); waiting`
              : `consumer ${this.options.stream}/${this.options.consumer} is not available; waiting (create it with \`agentbus streams apply\`)`,
          );
        }
        // A consumer that did not answer has already waited BIND_TIMEOUT_MS: look again soon.
        await backoff(attempt, isTransientNatsError(error) ? TRANSIENT_RETRY_BACKOFF : { baseMs: 200, maxMs: 1_000 });
      }
    }
    throw new BusError('consumer-missing', `stopped before consumer ${this.options.stream}/${this.options.consumer} became available`);
  }

  /**
   * Pulls while the runner runs. A pull that lost its place is started again (within seconds:
   * each pull waits PULL_EXPIRES_MS at the server, which sends heartbeats at half of that): after
   * missed heartbeats — unless the runner is not pulling on purpose, every slot being busy — by
   * the client, on the same inbox (see watchStatus); and when the consumer or its stream is gone,
   * or nobody answers the pull, by binding again first (waiting until it exists and answers).
   * Each restart is logged and counted (hooks.onPullRestart).
   */
  private async consumeLoop(first: Consumer): Promise<void> {
    const prefetch = Math.max(1, this.options.prefetch ?? this.concurrency * 2);
    let consumer = first;
    let rebind = false;
    while (!this.stopping) {
      try {
        if (rebind) consumer = await this.bind();
        rebind = false;
        // bind: after a reconnect or missed heartbeats the client pulls again at once, instead of
        // first asking for the consumer's info (5 s time-out, then 5 s apart, while the consumer
        // has no leader). A consumer that is gone still ends the pull: its deletion (409) or a
        // pull nobody answers (503, no responders) is a lost pull, and bind() waits for it above.
        const messages = await consumer.consume({ max_messages: prefetch, expires: PULL_EXPIRES_MS, bind: true });
        this.messages = messages;
        this.readyFlag = true;
        void this.watchStatus(messages, () => (rebind = true));
        for await (const m of messages) {
          if (this.stopping) {
            this.settle(() => m.nak()); // buffered but not started: let another worker have it now
            continue;
          }
          // Delivered again while this runner still handles it (its wait ran out in a stall): the
          // handler that runs it acks it; a second one would do the same work beside it.
          if (this.active.has(m.seq)) {
            this.log.warn({ consumer: this.options.consumer, seq: m.seq }, 'a message this runner is still handling was delivered again; leaving it to the running handler');
            continue;
          }
          this.active.add(m.seq);
          this.waitingForSlot = true;
          await this.slots.acquire();
          this.waitingForSlot = false;
          const work = this.process(m).finally(() => {
            this.active.delete(m.seq);
            this.slots.release();
            this.inflight.delete(work);
          });
          this.inflight.add(work);
        }
      } catch (error) {
        if (this.stopping) break;
        this.readyFlag = false;
        rebind = true;
        this.log.error({ consumer: this.options.consumer, err: describeError(error) }, 'consumer stopped unexpectedly; restarting it');
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }

  /**
   * Watches the pull. Missed heartbeats (the node holding the pull died, or the connection moved):
   * the client pulls again by itself at once, on the same inbox (consume's `bind`), and this only
   * logs and counts it — a new consume here would be a new inbox, and a message the consumer sent
   * to the old one in the meantime would be lost in flight until its ack wait (5 s and more) ran
   * out. A consumer or stream that is gone, or a pull nobody answers: ends `messages`, and
   * consumeLoop binds again (waiting until the consumer exists and answers) and starts a new pull.
   */
  private async watchStatus(messages: ConsumerMessages, needsRebind: () => void): Promise<void> {
    for await (const status of messages.status()) {
      if (!PULL_LOST.has(status.type) || this.stopping) continue;
      if (status.type === 'heartbeats_missed') {
        // Every slot busy: the runner pulls nothing on purpose, so the server has nothing to beat for.
        if (this.waitingForSlot) continue;
        this.log.warn({ consumer: this.options.consumer, status }, `consumer ${this.options.stream}/${this.options.consumer} lost its pull (${status.type}); pulling again`);
        this.options.hooks?.onPullRestart?.(status.type);
        continue;
      }
      this.log.warn({ consumer: this.options.consumer, status }, `consumer ${this.options.stream}/${this.options.consumer} lost its pull (${status.type}); starting it again`);
      needsRebind();
      this.options.hooks?.onPullRestart?.(status.type as PullLostReason);
      messages.stop();
      return;
    }
  }

  private deliveryOf(m: JsMsg): DeliveryInfo {
    const info = m.info;
    return {
      stream: this.options.stream,
      consumer: this.options.consumer,
      streamSeq: info.streamSequence,
      deliveryCount: info.deliveryCount,
      maxDeliver: this.maxDeliver,
      // Read on demand: decoding headers is a cost most deliveries do not need.
      get resent() {
        return Boolean(m.headers?.get(Headers.replayedFrom) || m.headers?.get(Headers.redrivenFrom));
      },
    };
  }

  private async process(m: JsMsg): Promise<void> {
    const delivery = this.deliveryOf(m);
    const { registry } = this.options;
    let envelope: EnvelopeOf<R, MessageTypeOf<R>>;
    let handler: Handler<R, MessageTypeOf<R>> | undefined;
    try {
      const raw = decodeEnvelope(m.data);
      const type = raw.type as MessageTypeOf<R>;
      const definition = getDefinition(registry, type); // unknown types can never succeed
      handler = this.options.handlers[type] as Handler<R, MessageTypeOf<R>> | undefined;
      if (!handler) {
        await this.unhandled(m, delivery, type);
        return;
      }
      // A message means what its subject says: a type a handler here takes, arrived on a subject
      // that is not its own, was put there by someone who may publish there and not the type.
      if (!belongsOn(definition, m.subject)) {
        const error = `${type} belongs on ${definition.subject}, but this one arrived on ${m.subject}: no handler acts on it`;
        this.log.warn({ consumer: this.options.consumer, seq: delivery.streamSeq, type, subject: m.subject, reason: DeadLetterReasons.subjectMismatch }, `${error}: dead-lettering it`);
        await this.deadLetterAndTerm(m, delivery, DeadLetterReasons.subjectMismatch, error, type);
        return;
      }
      // The id JetStream deduplicated it by must be the id the ledger records it under.
      const msgId = m.headers?.get(Headers.msgId) || undefined;
      if (!msgIdNamesEnvelope(msgId, raw.id, delivery.resent)) {
        const error = `${type} ${raw.id} arrived with ${Headers.msgId} ${msgId === undefined ? '(none)' : `"${headerValue(msgId, 200)}"`}, which is not its envelope id: no handler acts on it`;
        this.log.warn({ consumer: this.options.consumer, seq: delivery.streamSeq, type, reason: DeadLetterReasons.idMismatch }, `${error}: dead-lettering it`);
        await this.deadLetterAndTerm(m, delivery, DeadLetterReasons.idMismatch, error, type);
        return;
      }
      envelope = { ...raw, type, data: validateData(registry, type, raw.data) } as EnvelopeOf<R, MessageTypeOf<R>>;
    } catch (error) {
      const reason = isMessageValidationError(error) ? (error.code as DeadLetterReason) : DeadLetterReasons.malformedJson;
      this.log.warn({ consumer: this.options.consumer, seq: delivery.streamSeq, reason, err: describeError(error) }, 'invalid message: dead-lettering it');
      await this.deadLetterAndTerm(m, delivery, reason, describeError(error), undefined);
      return;
    }

    const { ledger } = this.options;
    const log = this.log;
    // On every delivery, not only on redeliveries: the same envelope may come back as a new stream
    // message (re-sent after the duplicate window, replayed, redriven) with a delivery count of 1.
    if (ledger) {
      try {
        if (await ledger.isDone(this.options.consumer, envelope.id)) {
          this.settle(() => m.ack());
          log.info({ consumer: this.options.consumer, id: envelope.id, correlationId: envelope.correlationId }, 'already handled: skipping');
          this.options.hooks?.onOutcome?.('skipped-duplicate', envelope.type, delivery);
          return;
        }
      } catch (error) {
        this.settle(() => m.nak(1_000));
        log.warn({ err: describeError(error) }, 'idempotency ledger unavailable; will retry');
        this.options.hooks?.onOutcome?.('retry', envelope.type, delivery);
        return;
      }
    }

    const started = Date.now();
    this.keepAlive.track(m, started);
    const deliveryLog = log.child ? log.child({ correlationId: envelope.correlationId, messageId: envelope.id, type: envelope.type, consumer: delivery.consumer }) : log;
    const ctx = new DeliveryContext(m, delivery, envelope, this.options.publisher, ledger, this.abort.signal, deliveryLog, this.slots);
    let failure: { error: unknown } | undefined;
    try {
      await this.options.hooks?.onStart?.(envelope, delivery);
      await handler(envelope, ctx);
      if (ledger && ctx.rescheduleMs === undefined) await ledger.markDone(this.options.consumer, envelope.id);
    } catch (error) {
      failure = { error };
    } finally {
      this.keepAlive.untrack(m);
    }
    const ms = Date.now() - started;
    const hooks = this.options.hooks;
    if (!failure) {
      const reschedule = ctx.rescheduleMs;
      this.settle(() => (reschedule === undefined ? m.ack() : m.nak(reschedule)));
      if (hooks?.onFinish) await this.runHook(() => hooks.onFinish!(envelope, delivery, { ok: true, ms }));
      hooks?.onOutcome?.(reschedule === undefined ? 'acked' : 'rescheduled', envelope.type, delivery);
      return;
    }
    const { error } = failure;
    const retryable = isRetryableFailure(error);
    const willRetry = willBeRetried(error, delivery);
    if (hooks?.onFinish) await this.runHook(() => hooks.onFinish!(envelope, delivery, { ok: false, ms, error, willRetry }));
    const where = { consumer: this.options.consumer, id: envelope.id, correlationId: envelope.correlationId, attempt: delivery.deliveryCount, err: describeError(error) };
    if (willRetry) {
      const delays = this.options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
      const delay = delays[Math.min(delivery.deliveryCount - 1, delays.length - 1)] ?? 1_000;
      log.warn({ ...where, retryInMs: delay }, 'handler failed; retrying');
      this.settle(() => m.nak(delay));
      hooks?.onOutcome?.('retry', envelope.type, delivery);
    } else {
      const reason = retryable ? DeadLetterReasons.retriesExhausted : DeadLetterReasons.handlerFailed;
      log.error({ ...where, reason }, 'handler failed for good; dead-lettering');
      await this.deadLetterAndTerm(m, delivery, reason, describeError(error), envelope.type);
    }
  }

  private async unhandled(m: JsMsg, delivery: DeliveryInfo, type: string): Promise<void> {
    if ((this.options.unhandledTypes ?? UnhandledTypePolicies.deadLetter) === UnhandledTypePolicies.skip) {
      this.settle(() => m.ack());
      this.log.debug({ consumer: this.options.consumer, seq: delivery.streamSeq, type }, 'no handler for this type here: skipped');
      this.options.hooks?.onOutcome?.(Outcomes.skippedUnhandled, type, delivery);
      return;
    }
    const handled = Object.keys(this.options.handlers).sort().join(', ') || 'nothing';
    const error = `consumer ${this.options.consumer} has no handler for ${type} (it handles ${handled}); a message on ${m.subject} must be one of those`;
    this.log.warn({ consumer: this.options.consumer, seq: delivery.streamSeq, type, reason: DeadLetterReasons.unhandledType }, `${error}: dead-lettering it`);
    await this.deadLetterAndTerm(m, delivery, DeadLetterReasons.unhandledType, error, type);
  }

  /** A hook's failure is logged; it never changes how a delivery ends. */
  private async runHook(hook: () => void | Promise<void>): Promise<void> {
    try {
      await hook();
    } catch (error) {
      this.log.warn({ consumer: this.options.consumer, err: describeError(error) }, 'consumer hook failed');
    }
  }

  private async deadLetterAndTerm(m: JsMsg, delivery: DeliveryInfo, reason: DeadLetterReason, error: string, type: string | undefined): Promise<void> {
    try {
      await deadLetter(this.options.publisher, {
        stream: delivery.stream,
        seq: delivery.streamSeq,
        subject: m.subject,
        headers: m.headers,
        data: m.data,
        time: m.time,
        consumer: delivery.consumer,
        deliveries: delivery.deliveryCount,
        reason,
        error,
      });
      this.settle(() => m.term()); // plain term: 2.9.10 ignores a term with a reason
      this.options.hooks?.onOutcome?.('dead-lettered', type, delivery);
    } catch (dlqError) {
      this.log.error({ consumer: delivery.consumer, seq: delivery.streamSeq, err: describeError(dlqError) }, 'could not write the dead letter; leaving the message for redelivery');
      this.settle(() => m.nak(5_000));
      this.options.hooks?.onOutcome?.('retry', type, delivery);
    }
  }

  /**
   * Safety net for a worker that died on the last delivery: the server announces the message
   * (lazily, on the next pull) with a MAX_DELIVERIES advisory; fetch it by sequence and
   * dead-letter it. The dedup id makes this a no-op when the handler path already did it.
   */

  /**
   * Stops pulling, lets running handlers finish (up to shutdownGraceMs) and returns. Buffered
   * messages are nak'ed for immediate redelivery elsewhere; handlers still running after the
   * grace period are abandoned to redelivery after ack_wait.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.readyFlag = false;
    this.advisory?.unsubscribe();
    this.messages?.stop();
    const grace = this.options.shutdownGraceMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), grace)));
    const result = await Promise.race([Promise.allSettled([...this.inflight]).then(() => 'done' as const), timedOut]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.abort.abort();
      this.log.warn({ consumer: this.options.consumer, running: this.inflight.size }, 'handlers still running at shutdown; they will be redelivered');
    }
    await this.loop?.catch(() => {});
    this.keepAlive.stop();
    this.settles.flush();
  }
}
