import { fleetResource } from '@agentbus/fleet';
import { evidenceResource, followupsResource } from '@agentbus/health';
import { defineService, leasesResource } from '@agentbus/runtime';
import { stateResource } from '@agentbus/state';
import { rollbackSettings } from './config.ts';
import { followupFailedHandler, healthFailedHandler } from './handlers/health-failed.ts';
import { deployFailedHandler } from './handlers/deploy-failed.ts';
import { rollbackTaskHandler } from './handlers/rollback-task.ts';

export const rollbackService = defineService({
  name: 'rollback',
  description: 'rolls back deployments whose health failure (at their verdict or a follow-up) or failed deploy command is attributed to them, and those a release asks it to',
  settings: rollbackSettings,
  resources: { fleet: fleetResource, state: stateResource, leases: leasesResource, evidence: evidenceResource, followups: followupsResource },
  start(ctx) {
    const { fleet, state, leases, evidence, followups } = ctx.resources;
    const deps = { fleet, state, evidence, leases, followups, leaseWaitMs: ctx.settings.ROLLBACK_LEASE_WAIT_MS };
    return {
      rollback: {
        concurrency: ctx.settings.ROLLBACK_CONCURRENCY,
        handlers: { 'health.failed': healthFailedHandler(deps), 'followup.failed': followupFailedHandler(deps), 'deploy.failed': deployFailedHandler(deps) },
      },
      'rollback-tasks': {
        concurrency: ctx.settings.ROLLBACK_CONCURRENCY,
        handlers: { 'rollback.rollback': rollbackTaskHandler(deps) },
      },
    };
  },
});
