import type { AgentbusRegistry } from '@agentbus/contracts';
import type { Handler } from '@agentbus/bus';
import { announceInChat, requestPageResolve, type NotifierDeps } from '../announce.ts';

/**
 * escalation.resolved (from whoever ended it, or from the notifier itself once the service was
 * verified healthy): PagerDuty resolve with the same dedup_key, the page closed in
 * `pages/<service>`, and the resolution told in chat.
 */
export function escalationResolvedHandler(deps: NotifierDeps): Handler<AgentbusRegistry, 'escalation.resolved'> {
  return async (event, ctx) => {
    const { dedupKey, service } = event.data;
    const resolved = await requestPageResolve(event, ctx, deps);
    if (service !== undefined) await ctx.step('close-page', () => deps.pages.close(service, dedupKey, `${event.id}.close-page`));
    await announceInChat(event, ctx, deps);
    ctx.log.info({ dedupKey, resolved }, `${service ?? 'agentbus'}: escalation ${dedupKey} resolved`);
  };
}
