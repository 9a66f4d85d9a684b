/**
 * In-progress acks for long handlers (one of the consumer runner's units). One timer for every
 * running delivery: every `ackWait / 3` (at least 250 ms), each delivery tracked for at least that
 * long gets `working()` (+WPI), so long work is not redelivered while it is still going. A delivery
 * tracked for less than that gets nothing yet. Untrack a delivery when its handler ends.
 */
export class KeepAlive<M extends { working(): void }> {
  private readonly running = new Map<M, number>();
  private timer: NodeJS.Timeout | undefined;

  /** Starts the timer for a consumer whose ack wait is `ackWaitMs`. */
  start(ackWaitMs: number): void {
    const every = Math.max(250, Math.floor(ackWaitMs / 3));
    this.timer = setInterval(() => {
      const now = Date.now();
      for (const [m, startedAt] of this.running) if (now - startedAt >= every) m.working();
    }, every);
    this.timer.unref();
  }

  track(m: M, startedAt = Date.now()): void {
    this.running.set(m, startedAt);
  }

  untrack(m: M): void {
    this.running.delete(m);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
