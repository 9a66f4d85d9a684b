import { describeError, type AgentbusRegistry, type CheckResult } from '@agentbus/contracts';
import type { Publisher } from '@agentbus/bus';
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

/** An unhealthy stretch of one service, as the watch saw it. */
interface Outage {
  since: string;
  incidentId: string;
  escalated: boolean;
}

export interface WatchOptions {
  intervalMs: number;
  /** Unhealthy for longer than this: page a human (prolonged-unhealthy). */
  unhealthyAfterMs: number;
  publisher: Publisher<AgentbusRegistry>;
  log: Logger;
}

/**
 * Keeps each service's recent health between deploys: every service is probed at start and then
 * every `intervalMs`. The baseline of a deployment is the last sample finished before the
 * deployment began, so probes taken while a deploy restarts the service never count as "before".
 *
 * The same watch notices outages: a service unhealthy for longer than `unhealthyAfterMs` raises
 * a prolonged-unhealthy escalation (once per outage), and the end of any outage is announced as
 * health.recovered, which is what resolves the pages about that service.
 */
export class BaselineWatcher {
  private readonly samples = new Map<string, BaselineSample[]>();
  private readonly outages = new Map<string, Outage>();
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;

  constructor(
    private readonly services: readonly FleetService[],
    private readonly options: WatchOptions,
  ) {}

  /** Probes every service once (so baselines exist before the first deploy), then keeps watching. */
  async start(): Promise<void> {
    await this.probeAll();
    if (this.options.intervalMs > 0) {
      this.timer = setInterval(() => void this.probeAll(), this.options.intervalMs);
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

  private async trackOutage(service: string, sample: BaselineSample): Promise<void> {
    const outage = this.outages.get(service);
    const { publisher, unhealthyAfterMs } = this.options;
    if (!sample.healthy) {
      const current = outage ?? { since: sample.checkedAt, incidentId: `outage-${service}-${Date.parse(sample.checkedAt)}`, escalated: false };
      this.outages.set(service, current);
      const lasted = Date.now() - Date.parse(current.since);
      if (!current.escalated && lasted >= unhealthyAfterMs) {
        const failing = sample.checks.filter((c) => !c.ok && c.severity === 'fatal');
        await publisher.publish(
          'escalation.raised',
          {
            dedupKey: `agentbus.prolonged-unhealthy.${service}.${Date.parse(current.since)}`,
            kind: 'prolonged-unhealthy',
            severity: 'critical',
            service,
            summary: `${service} has been unhealthy for ${Math.round(lasted / 1000)} s (since ${current.since}): ${failing.map((c) => `${c.name}: ${c.error ?? 'failed'}`).join('; ')}`.slice(0, 1024),
            details: { since: current.since, unhealthyMs: lasted, thresholdMs: unhealthyAfterMs, failingChecks: failing.map((c) => c.name) },
          },
          { correlationId: current.incidentId, id: `escalation.prolonged-unhealthy.${service}.${Date.parse(current.since)}` },
        );
        current.escalated = true;
      }
      return;
    }
    if (!outage) return;
    this.outages.delete(service);
    const recoveredAt = sample.checkedAt;
    await publisher.publish(
      'health.recovered',
      { service, unhealthySince: outage.since, recoveredAt, unhealthyMs: Math.max(0, Date.parse(recoveredAt) - Date.parse(outage.since)) },
      { correlationId: outage.incidentId, id: `health.recovered.${service}.${Date.parse(outage.since)}` },
    );
    this.options.log.info({ service, since: outage.since }, `${service} is healthy again`);
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
      if (!baseline.healthy) this.options.log.warn({ service: service.name, failing: baseline.failingChecks }, `${service.name} is unhealthy`);
      await this.trackOutage(service.name, sample);
    } catch (error) {
      this.options.log.error({ service: service.name, err: describeError(error) }, `could not probe ${service.name}`);
    }
  }
}
