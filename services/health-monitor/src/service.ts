import { Heartbeats, startTimerOnce } from '@agentbus/bus';
import { agentbusConsumers } from '@agentbus/streams';
import { fleetResource } from '@agentbus/fleet';
import { describeError } from '@agentbus/contracts';
import { evidenceResource, followupsResource, PrometheusClient } from '@agentbus/health';
import { stateResource } from '@agentbus/state';
import { defineService, leasesResource } from '@agentbus/runtime';
import { healthMonitorSettings } from './config.ts';
import { deployCompletedHandler } from './handlers/deploy-completed.ts';
import { healthWatchHandler } from './handlers/health-watch.ts';
import { followupHandler } from './handlers/followup.ts';
import { integritySweepHandler } from './handlers/integrity-sweep.ts';
import { watchdogHandler, watchdogMetrics } from './handlers/watchdog.ts';
import { driftScanHandler } from './handlers/drift-scan.ts';

export const healthMonitorService = defineService({
  name: 'health-monitor',
  description: 'judges every deployment after its stabilization window (HTTP and metric checks) and again at its follow-ups; watches every service between deploys (one prober at a time); verifies every versioned document now and then; runs the bus watchdog (heartbeats, stalled consumers, backlogs, redelivery storms, DLQ growth)',
  settings: healthMonitorSettings,
  resources: { fleet: fleetResource, leases: leasesResource, evidence: evidenceResource, followups: followupsResource, state: stateResource },
  async start(ctx) {
    const { fleet, leases, evidence, followups, state } = ctx.resources;
    // One watch timer for the fleet, however many health monitors start it.
    if (fleet.prometheus && fleet.services.some((service) => service.health.metrics.length)) {
      // Not a reason to refuse to start (Prometheus may come back before the next verdict), but
      // an operator should hear of it now rather than from an inconclusive verdict at night.
      const url = fleet.prometheus.url;
      void new PrometheusClient(fleet.prometheus).query('vector(1)').then(
        () => ctx.log.info({ prometheus: url }, 'Prometheus answers: metric checks can be judged'),
        (error: unknown) => ctx.log.warn({ prometheus: url, err: describeError(error) }, `Prometheus at ${url} does not answer: metric checks will be inconclusive until it does`),
      );
    }
    const { started } = await startTimerOnce(ctx.publisher, 'schedule.health-watch', {});
    ctx.log.info({ started }, started ? 'started the watch timer' : 'the watch timer runs already');
    const sweep = await startTimerOnce(ctx.publisher, 'schedule.integrity-sweep', {});
    ctx.log.info({ started: sweep.started }, sweep.started ? 'started the integrity sweep timer' : 'the integrity sweep timer runs already');
    const watchdog = await startTimerOnce(ctx.publisher, 'schedule.watchdog', {});
    ctx.log.info({ started: watchdog.started }, watchdog.started ? 'started the bus watchdog timer' : 'the bus watchdog timer runs already');
    const drift = await startTimerOnce(ctx.publisher, 'schedule.drift-scan', {});
    ctx.log.info({ started: drift.started }, drift.started ? 'started the drift scan timer' : 'the drift scan timer runs already');
    const heartbeats = await Heartbeats.open(ctx.nc);
    return {
      'health-monitor': {
        concurrency: ctx.settings.HEALTH_CONCURRENCY,
        handlers: { 'deploy.completed': deployCompletedHandler({ fleet, evidence, leases, followups }) },
      },
      // Follow-ups wait out their delays on the server: many pending, a few run at once.
      followups: {
        concurrency: ctx.settings.HEALTH_CONCURRENCY,
        handlers: { 'schedule.followup': followupHandler({ fleet, state, followups }) },
      },
      'integrity-sweep': {
        concurrency: 1,
        handlers: { 'schedule.integrity-sweep': integritySweepHandler({ state, intervalMs: ctx.settings.HEALTH_INTEGRITY_SWEEP_MS }) },
      },
      watchdog: {
        concurrency: 1,
        handlers: {
          'schedule.watchdog': watchdogHandler({ nc: ctx.nc, heartbeats, consumers: agentbusConsumers, thresholds: fleet.watchdog, intervalMs: ctx.settings.HEALTH_WATCHDOG_INTERVAL_MS, metrics: watchdogMetrics(ctx.metrics.registry) }),
        },
      },
      'drift-scan': {
        concurrency: 1,
        handlers: { 'schedule.drift-scan': driftScanHandler({ fleet, state, leases, bucket: heartbeats.bucket, intervalMs: ctx.settings.HEALTH_DRIFT_SCAN_MS }) },
      },
      'health-watch': {
        concurrency: 1,
        handlers: {
          'schedule.health-watch': healthWatchHandler({ fleet, evidence, intervalMs: ctx.settings.HEALTH_WATCH_INTERVAL_MS, unhealthyAfterMs: fleet.escalation.unhealthyAfterMs }),
        },
      },
    };
  },
});
