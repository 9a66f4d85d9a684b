import { collectIncidentEvents } from '@agentbus/incident';
import { fleetResource } from '@agentbus/fleet';
import { defineService } from '@agentbus/runtime';
import { refusedReadEscalation, stateResource } from '@agentbus/state';
import type { NotifierDeps } from './announce.ts';
import { notifierSettings } from './config.ts';
import { deliverHandler } from './handlers/deliver.ts';
import { escalationRaisedHandler } from './handlers/escalation-raised.ts';
import { escalationResolvedHandler } from './handlers/escalation-resolved.ts';
import { incidentUpdateHandler } from './handlers/incident-update.ts';
import { serviceVerifiedHandler } from './handlers/service-verified.ts';
import { OpenPages } from './open-pages.ts';
import { resolveTargets } from './targets.ts';

export const notifierService = defineService({
  name: 'notifier',
  description: 'pages humans for escalations and resolves the pages once the service is healthy; chat updates per incident; webhook deliveries retried through the bus',
  settings: notifierSettings,
  resources: { fleet: fleetResource, state: stateResource },
  start(ctx) {
    const { fleet, state } = ctx.resources;
    const targets = resolveTargets(fleet.notifications, ctx.env);
    const lookbackMs = ctx.settings.NOTIFIER_INCIDENT_LOOKBACK_MS;
    const deps: NotifierDeps = {
      targets,
      pages: new OpenPages(state, async (refused, service) => {
        ctx.log.error({ path: refused.path, version: refused.number, reason: refused.reason }, `${refused.message}: its open pages are not trusted (read as none)`);
        const raised = refusedReadEscalation(refused, { service, summary: `${service}'s open pages (${refused.path}) fail verification (version ${refused.number}: ${refused.reason}): agentbus no longer knows which of its pages are open` });
        await ctx.publisher.publish('escalation.raised', raised.data, { id: raised.id });
      }),
      incidentEvents: (correlationId, time) => collectIncidentEvents(ctx.nc, correlationId, { since: new Date(Date.parse(time) - lookbackMs) }),
    };
    ctx.log.info({ targets: targets.names }, targets.names.length ? `notifying ${targets.names.join(', ')}` : 'no notification targets configured: escalations are tracked, nothing is sent');
    const verified = serviceVerifiedHandler(deps);
    const update = incidentUpdateHandler(deps);
    return {
      // One at a time, in stream order: a page is recorded before a later verdict looks for it.
      notifier: {
        concurrency: 1,
        handlers: {
          'escalation.raised': escalationRaisedHandler(deps),
          'escalation.resolved': escalationResolvedHandler(deps),
          'health.passed': verified,
          'rollback.completed': verified,
          'health.recovered': verified,
          'deploy.failed': update,
          'rollback.failed': update,
          'rollback.skipped': update,
          'release.completed': update,
        },
      },
      'notifier-deliveries': {
        concurrency: ctx.settings.NOTIFIER_DELIVERY_CONCURRENCY,
        handlers: { 'notifier.deliver': deliverHandler({ targets }) },
      },
    };
  },
});
