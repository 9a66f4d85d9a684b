/**
 * Acks, naks and terms batched per event-loop turn (one of the consumer runner's units). The
 * client flushes its outbound buffer in a microtask, so settlements issued from different
 * handlers' microtasks would otherwise each cost a socket write; queued here until the end of the
 * turn (setImmediate) they share one. The delay is under a millisecond; a crash inside it means
 * redelivery, which the idempotency ledger absorbs. Actions run in the order they were queued.
 */
export class SettleBatch {
  private pending: Array<() => void> = [];
  private timer: NodeJS.Immediate | undefined;

  settle(action: () => void): void {
    this.pending.push(action);
    this.timer ??= setImmediate(() => this.flush());
  }

  /** Runs what is queued now (the runner's stop: nothing is left unsent). */
  flush(): void {
    if (this.timer) clearImmediate(this.timer);
    this.timer = undefined;
    const actions = this.pending;
    this.pending = [];
    for (const action of actions) action();
  }
}
