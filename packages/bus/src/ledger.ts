import type { NatsConnection } from '@nats-io/transport-node';
import { AgentbusError } from '@agentbus/contracts';
import { isWrongLastSequence } from './errors.ts';
import { Bucket } from './kv.ts';

/** The KV bucket of the idempotency ledger (created by `agentbus streams apply`). */
export const LEDGER_BUCKET = 'AGENTBUS_LEDGER';

const KEY_PART = /^[A-Za-z0-9_=-][A-Za-z0-9_=.-]*$/;

function keyPart(value: string, what: string): string {
  if (!KEY_PART.test(value) || value.endsWith('.')) {
    throw new AgentbusError('ledger-key-invalid', `${what} "${value}" cannot be part of a ledger key`, { hint: 'use letters, digits, _ = - and inner dots' });
  }
  return value;
}

/**
 * Remembers which messages a consumer has fully handled, and which steps of a message it has
 * done, so that redelivery and replay skip side effects already done.
 *
 * Contracts:
 * - keys are written with `kv.create` only (expected last subject sequence 0), which is safe on
 *   replicated streams on nats-server 2.9.10, unlike `kv.update`; keys are never deleted (they
 *   expire with the bucket's max age, after which a create is again the safe path);
 * - `step(name, fn)` runs `fn` at most once per (consumer, message, name) *once recorded*: a
 *   process that dies after `fn` finished but before the record was stored runs it again on
 *   redelivery, so each step must itself tolerate a repeat of its last action (check-then-act).
 */
export class IdempotencyLedger {
  private constructor(private readonly kv: Bucket) {}

  static async open(nc: NatsConnection, bucket = LEDGER_BUCKET): Promise<IdempotencyLedger> {
    try {
      return new IdempotencyLedger(await Bucket.open(nc, bucket));
    } catch (error) {
      throw new AgentbusError('ledger-missing', `the idempotency ledger bucket ${bucket} is not available`, {
        cause: error,
        retryable: true,
        hint: 'create it with `agentbus streams apply`',
      });
    }
  }

  private doneKey(consumer: string, messageId: string): string {
    return `done.${keyPart(consumer, 'consumer')}.${keyPart(messageId, 'message id')}`;
  }

  async isDone(consumer: string, messageId: string): Promise<boolean> {
    const entry = await this.kv.get(this.doneKey(consumer, messageId));
    return entry !== null && entry.operation === 'PUT';
  }

  /** Records that `consumer` finished `messageId`. Recording twice is fine. */
  async markDone(consumer: string, messageId: string): Promise<void> {
    await this.createOnce(this.doneKey(consumer, messageId), new Date().toISOString());
  }

  /** Runs `fn` unless this step of this message is already recorded; returns its (recorded) result. */
  async step<T>(consumer: string, messageId: string, name: string, fn: () => Promise<T> | T): Promise<T> {
    const key = `step.${keyPart(consumer, 'consumer')}.${keyPart(messageId, 'message id')}.${keyPart(name, 'step name')}`;
    const entry = await this.kv.get(key);
    if (entry && entry.operation === 'PUT') {
      const text = entry.string();
      return (text === '' ? undefined : JSON.parse(text)) as T;
    }
    const result = await fn();
    await this.createOnce(key, result === undefined ? '' : JSON.stringify(result));
    return result;
  }

  private async createOnce(key: string, value: string): Promise<void> {
    try {
      await this.kv.create(key, value);
    } catch (error) {
      if (!isWrongLastSequence(error)) throw error;
    }
  }
}
