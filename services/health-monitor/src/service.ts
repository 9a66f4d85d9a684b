import { defineService } from '@agentbus/runtime';
import { BaselineWatcher } from './baselines.ts';
import { healthMonitorSettings } from './config.ts';
import { deployCompletedHandler } from './handlers/deploy-completed.ts';

export const healthMonitorService = defineService({
  name: 'health-monitor',
  description: 'keeps baselines, judges every deployment after its stabilization window',
  settings: healthMonitorSettings,
  async start(ctx) {
    const fleet = ctx.fleet();
    const baselines = new BaselineWatcher(fleet.services, {
      intervalMs: ctx.settings.HEALTH_WATCH_INTERVAL_MS,
      unhealthyAfterMs: fleet.escalation.unhealthyAfterMs,
      publisher: ctx.publisher,
      log: ctx.log,
    });
    await baselines.start();
    ctx.onStop(() => baselines.stop());
    return {
      'health-monitor': {
        concurrency: ctx.settings.HEALTH_CONCURRENCY,
        handlers: { 'deploy.completed': deployCompletedHandler({ fleet, baselines, leases: await ctx.leases() }) },
      },
    };
  },
});
