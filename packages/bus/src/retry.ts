import { backoff } from './backoff.ts';
import { isTransientNatsError } from './errors.ts';

/**
 * Runs a JetStream API call again while it fails transiently (a time-out, no responders: a leader
 * election after a node died, a server restarting), with backoff, for up to `totalMs`. Other
 * errors, and the last transient one, are thrown as they are.
 */
export async function retryTransient<T>(call: () => Promise<T>, totalMs = 30_000): Promise<T> {
  const deadline = Date.now() + totalMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!isTransientNatsError(error) || Date.now() >= deadline) throw error;
      await backoff(attempt, { baseMs: 100, maxMs: 1_000 });
    }
  }
}
