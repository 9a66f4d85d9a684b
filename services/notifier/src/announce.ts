import type { AgentbusRegistry, AnyEnvelopeOf, EnvelopeOf } from '@agentbus/contracts';
import type { HandlerContext } from '@agentbus/bus';
import type { IncidentEvent } from '@agentbus/incident';
import { chatMessage, chatUpdateOf, deliveryIds, isChatUpdate, pagerDutyResolve, pagerDutyTrigger, PAGERDUTY_TARGET, truncate } from '@agentbus/notify';
import type { OpenPages } from './open-pages.ts';
import type { NotificationTargets } from './targets.ts';

/**
 * How the notifier's handlers ask for deliveries: each outgoing message is a `notifier.deliver`
 * task with a deterministic id (deliveryIds), caused by the event it is about (so it belongs to
 * the same incident). Publishing one again stores it once; the delivery consumer does the POST.
 */

export interface NotifierDeps {
  targets: NotificationTargets;
  pages: OpenPages;
  /** The incident's events stored around `time` (for a chat message's wording). */
  incidentEvents(correlationId: string, time: string): Promise<IncidentEvent[]>;
}

type Ctx = HandlerContext<AgentbusRegistry>;

/**
 * The chat message for an incident update, to every chat target. Nothing for an event that is not
 * an update (isChatUpdate) or when no chat target is configured. The message is built from the
 * incident's events stored up to this one, so a redelivery builds the same message.
 */
export async function announceInChat(event: AnyEnvelopeOf<AgentbusRegistry>, ctx: Ctx, deps: NotifierDeps): Promise<void> {
  if (deps.targets.chat.length === 0 || !isChatUpdate(event)) return;
  const incident = (await deps.incidentEvents(event.correlationId, event.time)).filter((e) => e.seq <= ctx.delivery.streamSeq);
  const update = chatUpdateOf(event, incident);
  if (!update) return;
  for (const target of deps.targets.chat) {
    await ctx.publish(
      'notifier.deliver',
      { channel: 'chat', target: target.name, incidentId: event.correlationId, summary: truncate(`chat: ${update.title}`, 1024), body: chatMessage(update, target.format) },
      { id: deliveryIds.chat(target.name, event.id) },
    );
  }
}

/** A PagerDuty trigger for the escalation (nothing when paging is not configured). */
export async function requestPage(escalation: EnvelopeOf<AgentbusRegistry, 'escalation.raised'>, ctx: Ctx, deps: NotifierDeps): Promise<boolean> {
  const pagerduty = deps.targets.pagerduty;
  if (!pagerduty) return false;
  const { dedupKey, summary } = escalation.data;
  await ctx.publish(
    'notifier.deliver',
    { channel: 'pagerduty', target: PAGERDUTY_TARGET, incidentId: escalation.correlationId, dedupKey, summary: truncate(`page: ${summary}`, 1024), body: pagerDutyTrigger(escalation, { source: pagerduty.source }) },
    { id: deliveryIds.pageTrigger(dedupKey) },
  );
  return true;
}

/** A PagerDuty resolve for the dedupKey (nothing when paging is not configured). */
export async function requestPageResolve(resolution: EnvelopeOf<AgentbusRegistry, 'escalation.resolved'>, ctx: Ctx, deps: NotifierDeps): Promise<boolean> {
  if (!deps.targets.pagerduty) return false;
  const { dedupKey, summary } = resolution.data;
  await ctx.publish(
    'notifier.deliver',
    { channel: 'pagerduty', target: PAGERDUTY_TARGET, incidentId: resolution.correlationId, dedupKey, summary: truncate(`resolve: ${summary}`, 1024), body: pagerDutyResolve(dedupKey) },
    { id: deliveryIds.pageResolve(dedupKey) },
  );
  return true;
}
