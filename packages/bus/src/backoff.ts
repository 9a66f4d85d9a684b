/**
 * The one backoff formula of agentbus: how long to wait before the next attempt of something that
 * failed (a JetStream call, a publish, a lease that is busy, a consumer not there yet, a state
 * write that lost its race, a service that exited). Pure: the caller sleeps.
 */
export interface BackoffOptions {
  /** The wait before the second attempt (after the first failure). */
  baseMs: number;
  /** No wait is longer than this. */
  maxMs: number;
  /** How many times the wait doubles at most (the wait stops growing after that). @default 30 */
  maxDoublings?: number;
  /**
   * 'none': exactly the wait. 'full': a random wait between 0 and it ("full jitter"), for many
   * writers racing for one thing. @default 'none'
   */
  jitter?: 'none' | 'full';
}

/**
 * The wait after failed attempt number `attempt` (1 = the first): `baseMs · 2^(attempt − 1)`,
 * doubling at most `maxDoublings` times, at most `maxMs`; with full jitter a random share of it.
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions): number {
  const doublings = Math.min(Math.max(0, Math.floor(attempt) - 1), options.maxDoublings ?? 30);
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** doublings);
  return options.jitter === 'full' ? Math.random() * ceiling : ceiling;
}

/** Waits backoffDelayMs(attempt, options). */
export function backoff(attempt: number, options: BackoffOptions): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, backoffDelayMs(attempt, options)));
}
