import { describeError, type CheckResult } from '@agentbus/contracts';
import type { FleetService } from '@agentbus/fleet';
import { probeBaseline, toCheckResults } from '@agentbus/health';
import type { Logger } from '@agentbus/telemetry';

/** One baseline probe of a service: when it started and ended, and what it found. */
export interface BaselineSample {
  healthy: boolean;
  checkedAt: string;
  finishedAt: number;
  checks: CheckResult[];
}

/**
 * Keeps each service's recent health between deploys: every service is probed at start and then
 * every `intervalMs`. The baseline of a deployment is the last sample finished before the
 * deployment began, so probes taken while a deploy restarts the service never count as "before".
 */
export class BaselineWatcher {
  private readonly samples = new Map<string, BaselineSample[]>();
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;

  constructor(
    private readonly services: readonly FleetService[],
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  /** Probes every service once (so baselines exist before the first deploy), then keeps watching. */
  async start(): Promise<void> {
    await this.probeAll();
    if (this.intervalMs > 0) {
      this.timer = setInterval(() => void this.probeAll(), this.intervalMs);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.round;
  }

  /** The last sample of `service` that finished before `before` (ms since epoch), if any. */
  baselineBefore(service: string, before: number): BaselineSample | undefined {
    return [...(this.samples.get(service) ?? [])].reverse().find((sample) => sample.finishedAt <= before);
  }

  private probeAll(): Promise<void> {
    if (this.round) return this.round; // the previous round is still running
    this.round = Promise.all(this.services.map((service) => this.probe(service)))
      .then(() => undefined)
      .finally(() => (this.round = undefined));
    return this.round;
  }

  private async probe(service: FleetService): Promise<void> {
    try {
      const baseline = await probeBaseline(service.health.checks, { probes: 2, intervalMs: 100 });
      const sample: BaselineSample = { healthy: baseline.healthy, checkedAt: baseline.takenAt, finishedAt: Date.now(), checks: toCheckResults(baseline.report) };
      const kept = [...(this.samples.get(service.name) ?? []), sample].slice(-10);
      this.samples.set(service.name, kept);
      if (!baseline.healthy) this.log.warn({ service: service.name, failing: baseline.failingChecks }, `${service.name} is unhealthy`);
    } catch (error) {
      this.log.error({ service: service.name, err: describeError(error) }, `could not probe ${service.name}`);
    }
  }
}
