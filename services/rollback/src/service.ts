import { HealthEvidenceStore } from '@agentbus/health';
import { defineService } from '@agentbus/runtime';
import { rollbackSettings } from './config.ts';
import { healthFailedHandler } from './handlers/health-failed.ts';
import { deployFailedHandler } from './handlers/deploy-failed.ts';

export const rollbackService = defineService({
  name: 'rollback',
  description: 'rolls back deployments whose health failure (or failed deploy command) is attributed to them',
  settings: rollbackSettings,
  async start(ctx) {
    const fleet = ctx.fleet();
    const state = await ctx.state();
    const deps = { fleet, state, evidence: await HealthEvidenceStore.open(ctx.nc), leases: await ctx.leases(), leaseWaitMs: ctx.settings.ROLLBACK_LEASE_WAIT_MS };
    return {
      rollback: {
        concurrency: ctx.settings.ROLLBACK_CONCURRENCY,
        handlers: { 'health.failed': healthFailedHandler(deps), 'deploy.failed': deployFailedHandler(deps) },
      },
    };
  },
});
