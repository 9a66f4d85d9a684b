import { backoff } from './backoff.ts';
import { isTransientNatsError } from './errors.ts';

/**
 * The wait between two attempts of a JetStream call that failed transiently: 100 ms, doubling to
 * at most 250 ms. Short on purpose: a "no responders" comes back at once and costs the server
 * nothing, and a time-out has already waited its attempt's time-out, so a longer wait would only
 * add to how long the call takes once a new leader answers (a leader election on 2.9.10 ends
 * 4–9 s after the old leader died, at a moment nobody can predict).
 */
export const TRANSIENT_RETRY_BACKOFF = { baseMs: 100, maxMs: 250 } as const;

/**
 * Runs a JetStream API call again while it fails transiently (a time-out, no responders: a leader
 * election after a node died, a server restarting), TRANSIENT_RETRY_BACKOFF apart, for up to
 * `totalMs`. Other errors, and the last transient one, are thrown as they are. The call must be
 * safe to repeat: a time-out does not say whether the server did it.
 */
export async function retryTransient<T>(call: () => Promise<T>, totalMs = 30_000): Promise<T> {
  const deadline = Date.now() + totalMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!isTransientNatsError(error) || Date.now() >= deadline) throw error;
      await backoff(attempt, TRANSIENT_RETRY_BACKOFF);
    }
  }
}
