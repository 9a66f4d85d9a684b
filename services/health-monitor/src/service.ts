import { startTimerOnce } from '@agentbus/bus';
import { fleetResource } from '@agentbus/fleet';
import { evidenceResource } from '@agentbus/health';
import { defineService, leasesResource } from '@agentbus/runtime';
import { healthMonitorSettings } from './config.ts';
import { deployCompletedHandler } from './handlers/deploy-completed.ts';
import { healthWatchHandler } from './handlers/health-watch.ts';

export const healthMonitorService = defineService({
  name: 'health-monitor',
  description: 'judges every deployment after its stabilization window; watches every service between deploys (one prober at a time)',
  settings: healthMonitorSettings,
  resources: { fleet: fleetResource, leases: leasesResource, evidence: evidenceResource },
  async start(ctx) {
    const { fleet, leases, evidence } = ctx.resources;
    // One watch timer for the fleet, however many health monitors start it.
    const { started } = await startTimerOnce(ctx.publisher, 'schedule.health-watch', {});
    ctx.log.info({ started }, started ? 'started the watch timer' : 'the watch timer runs already');
    return {
      'health-monitor': {
        concurrency: ctx.settings.HEALTH_CONCURRENCY,
        handlers: { 'deploy.completed': deployCompletedHandler({ fleet, evidence, leases }) },
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
