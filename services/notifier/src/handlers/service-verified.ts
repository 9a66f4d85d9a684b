import type { AgentbusRegistry, EnvelopeOf } from '@agentbus/contracts';
import type { HandlerContext } from '@agentbus/bus';
import { formatDuration, shortSha } from '@agentbus/contracts';
import { deliveryIds, truncate } from '@agentbus/notify';
import { announceInChat, type NotifierDeps } from '../announce.ts';

/** The events that show a service healthy: a passed verdict, a completed rollback (re-probed), a recovery. */
export type ServiceVerified = EnvelopeOf<AgentbusRegistry, 'health.passed'> | EnvelopeOf<AgentbusRegistry, 'rollback.completed'> | EnvelopeOf<AgentbusRegistry, 'health.recovered'>;

function howVerified(event: ServiceVerified): string {
  switch (event.type) {
    case 'health.passed':
      return `its health checks passed (${event.data.phase} of deployment ${event.data.deploymentId})`;
    case 'rollback.completed':
      return `rolled back ${shortSha(event.data.mergeCommit)} and re-probed healthy`;
    case 'health.recovered':
      return `healthy again after ${formatDuration(event.data.unhealthyMs)} unhealthy`;
  }
}

/**
 * health.passed, rollback.completed, health.recovered: the chat update (health.passed after a
 * deploy, rollback.completed), then every page of the service opened at or before this event is
 * resolved: announced as escalation.resolved in the page's own incident, which sends the
 * PagerDuty resolve. A page raised after the event (this event delivered late) stays open: an
 * older verdict does not speak for a newer failure. The verification is recorded in
 * `pages/<service>` (see OpenPages), so the order of handling does not change the outcome.
 */
export function serviceVerifiedHandler(deps: NotifierDeps): (event: ServiceVerified, ctx: HandlerContext<AgentbusRegistry>) => Promise<void> {
  return async (event, ctx) => {
    await announceInChat(event, ctx, deps);
    const { service } = event.data;
    // Recorded first, so an escalation raised before it but handled after it is over at once.
    const ended = await deps.pages.verified(service, event.time, `${event.id}.verified`);
    for (const page of ended) {
      await ctx.publish(
        'escalation.resolved',
        { dedupKey: page.dedupKey, service, summary: truncate(`${service} is verified healthy: ${howVerified(event)}`, 1024) },
        { id: deliveryIds.escalationResolved(page.dedupKey), correlationId: page.incidentId },
      );
      ctx.log.info({ dedupKey: page.dedupKey, kind: page.kind }, `${service} verified healthy: resolving ${page.dedupKey}`);
    }
  };
}
