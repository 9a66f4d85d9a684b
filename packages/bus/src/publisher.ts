import { headers as natsHeaders, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type PubAck } from '@nats-io/jetstream';
import {
  createEnvelope,
  describeError,
  getDefinition,
  assertMessageData,
  streamForSubject,
  subjectOf,
  type DataInput,
  type Envelope,
  type EnvelopeMeta,
  type MessageTypeOf,
  type Registry,
} from '@agentbus/contracts';
import { backoff } from './backoff.ts';
import { TRANSIENT_RETRY_BACKOFF } from './retry.ts';
import { BusError, describePermissionDenied, isNoResponders, isPermissionViolation, isStreamNotFound, isTransientNatsError } from './errors.ts';
import { identityOf } from './connect.ts';
import { Headers } from './headers.ts';

export interface PublishResult {
  id: string;
  type: string;
  subject: string;
  stream: string;
  seq: number;
  /** True when the stream already held a message with this id (inside its duplicate window). */
  duplicate: boolean;
}

export interface PublishOptions extends Omit<EnvelopeMeta, 'source'> {
  /** Extra headers (provenance, tracing). */
  headers?: Record<string, string>;
}

export interface RawPublish {
  subject: string;
  body: Uint8Array | string;
  /** The dedup id (Nats-Msg-Id). Required: every agentbus publish is retry-safe. */
  msgId: string;
  headers?: Record<string, string>;
}

export interface PublisherOptions<R extends Registry> {
  registry: R;
  /** The sending agent's name: the envelope's `source`. */
  source: string;
  /**
   * Time-out of one publish attempt. A publish whose stream leader died before it answered gets no
   * answer at all and waits this long before it is sent again (with its id, so it is stored once).
   * @default 2 s (an answer takes milliseconds, under 100 ms on a loaded 2-core machine)
   */
  attemptTimeoutMs?: number;
  /**
   * Give up after this long and report `publish-unconfirmed`. Default 60 s: well inside the
   * streams' 2-minute duplicate window, so every retry is deduplicated by the server.
   */
  totalTimeoutMs?: number;
}

/** "Nats-Msg-Id: " and its line end, added by the client to every publish. */
const MSG_ID_HEADER_BYTES = Buffer.byteLength(Headers.msgId) + 4;
/** How long a publisher waits for a stream's info (its size limit, whether it exists). */
const STREAM_INFO_TIMEOUT_MS = 1_000;
const DEFAULT_ATTEMPT_TIMEOUT_MS = 2_000;

/** Message headers and their size on the wire ("NATS/1.0\r\n", "Name: value\r\n"…, "\r\n"). */
class HeaderBlock {
  readonly msg: MsgHdrs = natsHeaders();
  bytes = 12;

  set(name: string, value: string): void {
    this.msg.set(name, value);
    this.bytes += Buffer.byteLength(name) + Buffer.byteLength(value) + 4;
  }
}

/**
 * Publishes envelopes to JetStream. Contracts:
 * - the envelope id is the `Nats-Msg-Id`, so a repeat inside the duplicate window is stored once
 *   and reported as `duplicate: true`;
 * - a time-out or "no responders" (leader election, restart) is retried with the same id until
 *   `totalTimeoutMs`; a time-out does not mean "not stored", so the retry is what makes it safe;
 * - data is validated against the registry before anything is sent (JSON nested at most
 *   MAX_MESSAGE_DEPTH levels, then the type's schema); a message larger than the target stream's
 *   max message size (or the server's max payload) is refused before sending.
 */
export class Publisher<R extends Registry> {
  private readonly js: JetStreamClient;
  private readonly limits = new Map<string, Promise<number>>();
  /** Resolved stream limits, so the common path checks sizes without awaiting. */
  private readonly knownLimits = new Map<string, number>();
  private readonly attemptTimeoutMs: number;
  private readonly totalTimeoutMs: number;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: PublisherOptions<R>,
  ) {
    this.js = jetstream(nc, { timeout: options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS });
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS;
    this.totalTimeoutMs = options.totalTimeoutMs ?? 60_000;
  }

  get source(): string {
    return this.options.source;
  }

  /** Validates `data` for `type`, wraps it in an envelope and publishes it. */
  async publish<T extends MessageTypeOf<R>>(type: T, data: DataInput<R, T>, options: PublishOptions = {}): Promise<PublishResult> {
    const envelope = createEnvelope(this.options.registry, type, data, { ...options, source: this.options.source });
    return this.sendEnvelope(envelope, options.headers);
  }

  /**
   * Publishes an envelope built (and validated) elsewhere, e.g. by createEnvelope. Its data is
   * checked to be JSON nested at most MAX_MESSAGE_DEPTH levels here too (MessageValidationError
   * `invalid-data`), so an envelope assembled by hand cannot crash the serializer.
   */
  async publishEnvelope(envelope: Envelope, extraHeaders?: Record<string, string>): Promise<PublishResult> {
    assertMessageData(envelope.type, envelope.data);
    return this.sendEnvelope(envelope, extraHeaders);
  }

  private async sendEnvelope(envelope: Envelope, extraHeaders?: Record<string, string>): Promise<PublishResult> {
    const definition = getDefinition(this.options.registry, envelope.type);
    const headers = new HeaderBlock();
    headers.set(Headers.type, envelope.type);
    headers.set(Headers.correlationId, envelope.correlationId);
    if (envelope.causationId) headers.set(Headers.causationId, envelope.causationId);
    if (extraHeaders) for (const name in extraHeaders) headers.set(name, extraHeaders[name]!);
    const subject = subjectOf(definition, envelope.data);
    const ack = await this.send(subject, JSON.stringify(envelope), envelope.id, headers);
    return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate, id: envelope.id, type: envelope.type, subject };
  }

  /** Publishes bytes as they are (dead letters, replays, redrives), with the same guarantees. */
  async publishRaw(message: RawPublish): Promise<{ stream: string; seq: number; duplicate: boolean }> {
    const headers = new HeaderBlock();
    for (const name in message.headers ?? {}) headers.set(name, message.headers![name]!);
    return this.send(message.subject, message.body, message.msgId, headers);
  }

  private async send(subject: string, body: Uint8Array | string, msgId: string, headers: HeaderBlock): Promise<PubAck> {
    const size = (typeof body === 'string' ? Buffer.byteLength(body) : body.length) + headers.bytes + Buffer.byteLength(msgId) + MSG_ID_HEADER_BYTES;
    const sizeCheck = this.checkSize(subject, size);
    if (sizeCheck) await sizeCheck;
    const started = Date.now();
    let attempt = 0;
    let streamCheck: Promise<BusError | undefined> | undefined;
    for (;;) {
      attempt++;
      try {
        return await this.js.publish(subject, body, { msgID: msgId, headers: headers.msg, timeout: this.attemptTimeoutMs });
      } catch (error) {
        if (isPermissionViolation(error)) throw describePermissionDenied(error, identityOf(this.nc));
        if (!isTransientNatsError(error)) throw error;
        const missing = streamCheck && (await settledWithin(streamCheck));
        if (missing) throw missing;
        const elapsed = Date.now() - started;
        if (elapsed >= this.totalTimeoutMs) {
          throw new BusError('publish-unconfirmed', `publish of ${msgId} to ${subject} was not confirmed after ${attempt} attempts in ${elapsed} ms: ${describeError(error)}`, {
            cause: error,
            retryable: true,
            hint: 'it may still have been stored; publishing again with the same id is safe within the stream duplicate window (2 min). Check that the stream has a leader (`agentbus streams apply --dry-run`).',
            details: { msgId, subject, attempts: attempt },
          });
        }
        // No responders means no stream, or a stream without a leader (an election: the usual
        // case on a cluster). Its info is asked for beside the retries, not before them: a
        // leaderless stream's info gets no answer either, and waiting for it would only delay the
        // retry that finds the new leader. A missing stream is said at the next failure.
        if (attempt === 1 && isNoResponders(error)) streamCheck = this.checkStreamExists(subject).then(() => undefined, (found: unknown) => (found instanceof BusError ? found : undefined));
        await backoff(attempt, TRANSIENT_RETRY_BACKOFF);
      }
    }
  }

  private checkSize(subject: string, size: number): Promise<void> | void {
    const serverMax = this.nc.info?.max_payload ?? 1024 * 1024;
    let stream: string | undefined;
    try {
      stream = streamForSubject(subject);
    } catch {
      return this.enforceLimit(subject, size, serverMax, -1, undefined); // not an agentbus subject: the server limit applies
    }
    const known = this.knownLimits.get(stream);
    if (known !== undefined) return this.enforceLimit(subject, size, serverMax, known, stream);
    return this.checkSizeSlow(subject, size, serverMax, stream);
  }

  private async checkSizeSlow(subject: string, size: number, serverMax: number, stream: string): Promise<void> {
    let streamMax = -1;
    try {
      streamMax = await this.streamMaxMsgSize(stream);
      this.knownLimits.set(stream, streamMax);
    } catch (error) {
      if (error instanceof BusError) throw error;
      // Stream info unavailable right now: the server limit still applies.
    }
    this.enforceLimit(subject, size, serverMax, streamMax, stream);
  }

  private enforceLimit(subject: string, size: number, serverMax: number, streamMax: number, stream: string | undefined): void {
    const limit = streamMax > 0 ? Math.min(streamMax, serverMax) : serverMax;
    if (size > limit) {
      throw new BusError('payload-too-large', `message to ${subject} is ${size} bytes, over the ${limit}-byte limit of ${streamMax > 0 && streamMax <= serverMax ? `stream ${stream}` : 'the NATS server'}; nothing was sent`, {
        hint: 'keep large content in shared state (agentbus state put) and send its path in the message',
        details: { subject, size, limit },
      });
    }
  }

  private streamMaxMsgSize(stream: string): Promise<number> {
    let pending = this.limits.get(stream);
    if (!pending) {
      pending = (async () => {
        // Bounded: this runs before a first publish and after a refused one; an unanswered request
        // (a stream or meta leader being elected) leaves the server's limit to apply.
        const jsm = await jetstreamManager(this.nc, { checkAPI: false, timeout: STREAM_INFO_TIMEOUT_MS });
        try {
          return (await jsm.streams.info(stream)).config.max_msg_size ?? -1;
        } catch (error) {
          if (isStreamNotFound(error)) throw streamMissing(stream);
          throw error;
        }
      })();
      pending.catch(() => this.limits.delete(stream));
      this.limits.set(stream, pending);
    }
    return pending;
  }

  private async checkStreamExists(subject: string): Promise<void> {
    let stream: string;
    try {
      stream = streamForSubject(subject);
    } catch {
      return;
    }
    // A fresh look; the known limit stays in use meanwhile, so other publishes to the stream do
    // not wait for an answer a leaderless stream does not give.
    this.limits.delete(stream);
    await this.streamMaxMsgSize(stream).then(
      (max) => void this.knownLimits.set(stream, max),
      (error: unknown) => {
        if (!(error instanceof BusError)) return;
        this.knownLimits.delete(stream);
        throw error;
      },
    );
  }
}

/** The value of `pending` if it has settled within a macrotask, else undefined (never waits for it). */
async function settledWithin<T>(pending: Promise<T | undefined>): Promise<T | undefined> {
  return Promise.race([pending, new Promise<undefined>((resolve) => setImmediate(() => resolve(undefined)))]);
}

export function streamMissing(stream: string): BusError {
  return new BusError('stream-missing', `stream ${stream} does not exist`, {
    hint: 'create the streams with `agentbus streams apply` (services never create streams)',
    details: { stream },
  });
}
