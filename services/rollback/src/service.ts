import { loadFleetConfig } from '@agentbus/fleet';
import { defineService, openStateStore } from '@agentbus/runtime';
import { rollbackSettings } from './config.ts';
import { healthFailedHandler } from './handlers/health-failed.ts';

export const rollbackService = defineService({
  name: 'rollback',
  description: 'rolls back deployments whose health failure is attributed to them',
  settings: rollbackSettings,
  async start(ctx) {
    const fleet = loadFleetConfig(ctx.settings.AGENTBUS_CONFIG);
    const state = await openStateStore(ctx.nc, ctx.settings, ctx.name);
    ctx.onStop(() => state.close());
    const leases = await ctx.leases();
    return {
      rollback: {
        concurrency: ctx.settings.ROLLBACK_CONCURRENCY,
        handlers: { 'health.failed': healthFailedHandler({ fleet, state, leases, leaseWaitMs: ctx.settings.ROLLBACK_LEASE_WAIT_MS }) },
      },
    };
  },
});
