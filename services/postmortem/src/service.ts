import type { AgentbusRegistry } from '@agentbus/contracts';
import type { Handler } from '@agentbus/bus';
import { fleetResource } from '@agentbus/fleet';
import { defineService } from '@agentbus/runtime';
import { stateResource } from '@agentbus/state';
import { postmortemSettings } from './config.ts';
import { writePostmortem, type PostmortemDeps } from './handlers/write-postmortem.ts';

/**
 * The events that end (or change) an incident: each writes or updates its post-mortem. A release
 * is one incident (its steps share its correlation id): its end writes the post-mortem up once
 * more with every step, unless it ended healthy.
 */
export const postmortemTriggers = ['rollback.completed', 'rollback.failed', 'rollback.skipped', 'escalation.raised', 'escalation.resolved', 'release.completed'] as const;

export const postmortemService = defineService({
  name: 'postmortem',
  description: 'writes every incident up from the bus: versioned document, Markdown file, bug ticket',
  settings: postmortemSettings,
  resources: { fleet: fleetResource, state: stateResource },
  start(ctx) {
    const { fleet, state } = ctx.resources;
    const deps: PostmortemDeps = {
      nc: ctx.nc,
      state,
      services: fleet.services,
      dir: fleet.postmortems.dir,
      ticketLabels: fleet.notifications.ticket?.labels,
      lookbackMs: ctx.settings.POSTMORTEM_LOOKBACK_MS,
    };
    const handler: Handler<AgentbusRegistry, (typeof postmortemTriggers)[number]> = async (event, handlerCtx) => {
      if (event.type === 'release.completed' && (event.data as { status: string }).status === 'healthy') return; // nothing went wrong: no post-mortem
      await writePostmortem(deps, event, handlerCtx);
    };
    // One incident at a time: updates of one post-mortem never race each other.
    return { postmortem: { concurrency: 1, handlers: Object.fromEntries(postmortemTriggers.map((type) => [type, handler])) } };
  },
});
