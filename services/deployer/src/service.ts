import { HealthEvidenceStore } from '@agentbus/health';
import { defineService } from '@agentbus/runtime';
import { deployerSettings } from './config.ts';
import { deployHandler } from './handlers/deploy.ts';

export const deployerService = defineService({
  name: 'deployer',
  description: 'merges, pushes, verifies the remote, deploys and records the release',
  settings: deployerSettings,
  async start(ctx) {
    const fleet = ctx.fleet();
    const state = await ctx.state();
    const leases = await ctx.leases();
    return {
      deployer: {
        concurrency: ctx.settings.DEPLOYER_CONCURRENCY,
        handlers: { 'deployer.deploy': deployHandler({ fleet, state, evidence: await HealthEvidenceStore.open(ctx.nc), leases, leaseWaitMs: ctx.settings.DEPLOYER_LEASE_WAIT_MS }) },
      },
    };
  },
});
