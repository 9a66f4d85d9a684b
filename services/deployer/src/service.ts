import { loadFleetConfig } from '@agentbus/fleet';
import { defineService, openStateStore } from '@agentbus/runtime';
import { deployerSettings } from './config.ts';
import { deployHandler } from './handlers/deploy.ts';

export const deployerService = defineService({
  name: 'deployer',
  description: 'merges, pushes, verifies the remote, deploys and records the release',
  settings: deployerSettings,
  async start(ctx) {
    const fleet = loadFleetConfig(ctx.settings.AGENTBUS_CONFIG);
    const state = await openStateStore(ctx.nc, ctx.settings, ctx.name);
    ctx.onStop(() => state.close());
    const leases = await ctx.leases();
    return {
      deployer: {
        concurrency: ctx.settings.DEPLOYER_CONCURRENCY,
        handlers: { 'deployer.deploy': deployHandler({ fleet, state, leases, leaseWaitMs: ctx.settings.DEPLOYER_LEASE_WAIT_MS }) },
      },
    };
  },
});
