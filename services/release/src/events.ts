import type { NatsConnection } from '@nats-io/transport-node';
import { followIncident, type IncidentEvent } from '@agentbus/incident';

/**
 * The events of one release as they are stored, from its start: what the release agent decides
 * from. A restarted release reads them all again from the start and so decides as before.
 */
export class ReleaseEvents {
  readonly all: IncidentEvent[] = [];
  private readonly stop = new AbortController();
  private wake: (() => void) | undefined;
  private readonly following: Promise<void>;

  constructor(nc: NatsConnection, releaseId: string, since: Date, signal: AbortSignal) {
    const onAbort = () => this.stop.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    this.following = (async () => {
      try {
        for await (const event of followIncident(nc, releaseId, { since, signal: this.stop.signal })) {
          this.all.push(event);
          this.wake?.();
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
        this.wake?.();
      }
    })();
  }

  /**
   * Resolves with what `decide` returns once it returns something, looking again at each new
   * event; `onWait` runs while it waits (keep the delivery alive). Rejects when the handler is
   * stopped (the release resumes from its events on redelivery).
   */
  async until<T>(decide: (events: readonly IncidentEvent[]) => T | undefined, onWait: () => void = () => {}): Promise<T> {
    for (;;) {
      const decided = decide(this.all);
      if (decided !== undefined) return decided;
      if (this.stop.signal.aborted) throw new Error('the release agent is stopping: the release resumes from its events on redelivery');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 10_000); // a look now and then, whatever comes
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
      onWait();
    }
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.following.catch(() => {});
  }
}
