import type { AgentbusRegistry } from '@agentbus/contracts';
import type { Handler } from '@agentbus/bus';
import { deliveryIds, truncate } from '@agentbus/notify';
import { announceInChat, requestPage, type NotifierDeps } from '../announce.ts';
import { healthEndedKinds } from '../open-pages.ts';

/**
 * escalation.raised: page (PagerDuty trigger, dedup_key = the escalation's dedupKey) and tell chat
 * when no rollback event has told it already. An escalation that a healthy service ends is kept
 * open in `pages/<service>` first; one whose dedupKey is open already pages no second time. One
 * whose service was verified healthy after it was raised (that verification was handled first,
 * by another notifier or before a redelivery) pages and is resolved at once: the same outcome as
 * handling the two in stream order.
 *
 * Idempotent: recording the page is a ledger step and the delivery ids are deterministic, so a
 * redelivery resumes where it stopped and a replay (already handled) is skipped by the runtime.
 */
export function escalationRaisedHandler(deps: NotifierDeps): Handler<AgentbusRegistry, 'escalation.raised'> {
  return async (event, ctx) => {
    const { dedupKey, kind, service, severity, summary } = event.data;
    if (service !== undefined && healthEndedKinds.has(kind)) {
      const opened = await ctx.step('open-page', () =>
        deps.pages.open(service, { dedupKey, kind, severity, summary, incidentId: event.correlationId, raisedAt: event.time, escalationId: event.id }, `${event.id}.open-page`),
      );
      if (opened === 'already-open') {
        ctx.log.info({ dedupKey, kind }, `${service}: ${dedupKey} is paged already; no second page`);
        return;
      }
      if (opened === 'already-over') {
        await requestPage(event, ctx, deps);
        await announceInChat(event, ctx, deps);
        await ctx.publish(
          'escalation.resolved',
          { dedupKey, service, summary: truncate(`${service} was verified healthy after this escalation was raised`, 1024) },
          { id: deliveryIds.escalationResolved(dedupKey) },
        );
        ctx.log.info({ dedupKey, kind }, `${service}: ${dedupKey} was over before it was handled: paged and resolved`);
        return;
      }
    }
    const paged = await requestPage(event, ctx, deps);
    await announceInChat(event, ctx, deps);
    ctx.log.info({ dedupKey, kind, severity, paged }, `${service ?? 'agentbus'}: escalation ${kind}${paged ? ' paged' : ' (no pagerduty target configured)'}`);
  };
}
