import { fleetResource } from '@agentbus/fleet';
import { evidenceResource } from '@agentbus/health';
import { defineService, leasesResource } from '@agentbus/runtime';
import { stateResource } from '@agentbus/state';
import { deployerSettings } from './config.ts';
import { deployHandler } from './handlers/deploy.ts';

export const deployerService = defineService({
  name: 'deployer',
  description: 'merges, pushes, verifies the remote, deploys and records the release',
  settings: deployerSettings,
  resources: { fleet: fleetResource, state: stateResource, leases: leasesResource, evidence: evidenceResource },
  start(ctx) {
    const { fleet, state, leases, evidence } = ctx.resources;
    return {
      deployer: {
        concurrency: ctx.settings.DEPLOYER_CONCURRENCY,
        handlers: { 'deployer.deploy': deployHandler({ fleet, state, evidence, leases, leaseWaitMs: ctx.settings.DEPLOYER_LEASE_WAIT_MS }) },
      },
    };
  },
});
