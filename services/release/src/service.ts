import { fleetResource } from '@agentbus/fleet';
import { defineService, leasesResource } from '@agentbus/runtime';
import { stateResource } from '@agentbus/state';
import { releaseSettings } from './config.ts';
import { releaseStartHandler } from './handlers/start.ts';
import { releaseAbortHandler } from './handlers/abort.ts';

export const releaseService = defineService({
  name: 'release',
  description: 'runs staged multi-service releases: one step at a time, a guard window after each, a final check across the release',
  settings: releaseSettings,
  resources: { fleet: fleetResource, state: stateResource, leases: leasesResource },
  start(ctx) {
    const { fleet, state, leases } = ctx.resources;
    return {
      release: {
        concurrency: ctx.settings.RELEASE_CONCURRENCY,
        handlers: {
          'release.start': releaseStartHandler({ nc: ctx.nc, fleet, state, leases, leaseWaitMs: ctx.settings.RELEASE_LEASE_WAIT_MS }),
        },
      },
      // Its own consumer: an abort is never queued behind the releases it would stop.
      'release-aborts': { concurrency: 1, handlers: { 'release.abort': releaseAbortHandler({ state }) } },
    };
  },
});
