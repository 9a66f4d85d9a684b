import { JetStreamApiError } from '@nats-io/jetstream';
import { MoreJetStreamApiCodes } from './errors.ts';
import type { DataInput, MessageTypeOf, Registry } from '@agentbus/contracts';
import type { Publisher } from './publisher.ts';

/** JetStream's "maximum messages per subject exceeded" (StreamStoreFailed, sent with status 503): a timers stream already holds a message on that subject. */
export function isSubjectFull(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === MoreJetStreamApiCodes.StreamStoreFailed;
}

/**
 * Starts a durable timer (a message of a `timer` type on the timers stream, AGENT_SCHEDULE) unless
 * one is already there: that stream keeps one message per subject and refuses a second, so any
 * number of agents may call this at start and one timer runs. Resolves `started: false` when the
 * timer already existed.
 */
export async function startTimerOnce<R extends Registry, T extends MessageTypeOf<R>>(publisher: Publisher<R>, type: T, data: DataInput<R, T>): Promise<{ started: boolean }> {
  try {
    await publisher.publish(type, data);
    return { started: true };
  } catch (error) {
    if (isSubjectFull(error)) return { started: false };
    throw error;
  }
}
