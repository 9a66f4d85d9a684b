import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import { retryTransient } from './retry.ts';

/** How long one request of a Bucket waits for its answer. @default 1 s */
const BUCKET_REQUEST_TIMEOUT_MS = 1_000;

/**
 * A KV bucket whose calls ride out a leader election or a node that restarts: each request waits
 * at most `requestTimeoutMs`, and a time-out or "no responders" is tried again for up to
 * `retryForMs`, so a handler does not fail (and wait out its consumer's retry delay) for what a
 * cluster settles in seconds. A create retried after a time-out may find its own first attempt:
 * that is the wrong-last-sequence answer every caller of create already handles; get, keys, put
 * and delete are safe to repeat as they are.
 *
 * The time-out is short because a request to a stream without a leader (its leader's node just
 * died) gets no answer at all, not an error: each attempt then waits its whole time-out, and the
 * attempt under way when the new leader is elected is what the call waits for. A healthy answer
 * takes milliseconds, under 600 ms on a loaded 2-core machine.
 */
export class Bucket {
  private constructor(
    private readonly kv: KV,
    private readonly retryForMs: number,
  ) {}

  /**
   * Binds to an existing bucket (created by `agentbus streams apply`); throws what Kvm.open throws.
   * `requestTimeoutMs` @default 1 s; `retryForMs` @default 20 s.
   */
  static async open(nc: NatsConnection, bucket: string, options: { requestTimeoutMs?: number; retryForMs?: number } = {}): Promise<Bucket> {
    const kvm = new Kvm(jetstream(nc, { timeout: options.requestTimeoutMs ?? BUCKET_REQUEST_TIMEOUT_MS }));
    const kv = await retryTransient(() => kvm.open(bucket, { bindOnly: true }), options.retryForMs ?? 20_000);
    return new Bucket(kv, options.retryForMs ?? 20_000);
  }

  get(key: string): Promise<KvEntry | null> {
    return retryTransient(() => this.kv.get(key), this.retryForMs);
  }

  /**
   * The value at `key` as JSON through `schema`; undefined when there is none (or a delete
   * marker), or when it is not JSON or does not parse: anyone may write a bucket, and a reader
   * never fails on what it cannot read.
   */
  async getParsed<T>(key: string, schema: { safeParse(value: unknown): { success: true; data: T } | { success: false } }): Promise<T | undefined> {
    const entry = await this.get(key);
    if (!entry || entry.operation !== 'PUT') return undefined;
    try {
      const parsed = schema.safeParse(JSON.parse(entry.string()));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  put(key: string, value: string): Promise<number> {
    return retryTransient(() => this.kv.put(key, value), this.retryForMs);
  }

  create(key: string, value: string): Promise<number> {
    return retryTransient(() => this.kv.create(key, value), this.retryForMs);
  }

  delete(key: string): Promise<void> {
    return retryTransient(() => this.kv.delete(key), this.retryForMs);
  }

  /** Every key matching `filter` (KV wildcards). */
  keys(filter: string): Promise<string[]> {
    return retryTransient(async () => {
      const keys: string[] = [];
      for await (const key of await this.kv.keys(filter)) keys.push(key);
      return keys;
    }, this.retryForMs);
  }
}
