import { AgentbusError, type AgentbusRegistry } from '@agentbus/contracts';
import type { Handler } from '@agentbus/bus';
import { deliveryIds, postWebhook } from '@agentbus/notify';
import type { NotificationTargets } from '../targets.ts';

export const NotifierErrorCodes = {
  /** A delivery task names a target the notifications section does not configure. */
  unknownTarget: 'unknown-target',
} as const;

declare module '@agentbus/contracts' {
  interface AgentbusErrorCodeMaps {
    notifier: typeof NotifierErrorCodes;
  }
}

/**
 * notifier.deliver: POST the body to the configured target the task names, then announce
 * notification.delivered. Outcomes:
 * - 2xx: delivered, once: the POST is a ledger step, so a redelivery after it (the announcement
 *   failed) does not POST again; receivers also get the task id as `Idempotency-Key`;
 * - 5xx, 408, 429, time-out, no connection: a retryable error: the runtime naks with the
 *   consumer's backoff and dead-letters after max_deliver (never dropped);
 * - another 4xx or a redirect, or a target that is not configured: dead-lettered at once.
 * The URL comes from the configuration only; it never appears in an error, a log or an event.
 */
export function deliverHandler(deps: { targets: NotificationTargets }): Handler<AgentbusRegistry, 'notifier.deliver'> {
  return async (task, ctx) => {
    const { channel, target: name, incidentId, dedupKey } = task.data;
    const target = deps.targets.find(channel, name);
    if (!target) {
      throw new AgentbusError(NotifierErrorCodes.unknownTarget, `no ${channel} target "${name}" is configured (configured: ${deps.targets.names.join(', ') || 'none'})`, {
        retryable: false,
        hint: 'add it to the notifications section of the service registry (infra/config/README.md), restart the notifier, then `agentbus dlq redrive` this message',
        details: { channel, target: name },
      });
    }
    const response = await ctx.step('post', () =>
      postWebhook(target.url, target.bodyFor(task.data.body), {
        target: target.label,
        timeoutMs: deps.targets.timeoutMs,
        headers: { ...target.headers, 'idempotency-key': task.id },
        secrets: target.secrets,
        signal: ctx.signal,
      }),
    );
    await ctx.publish(
      'notification.delivered',
      { channel, target: name, incidentId, deliveryId: task.id, status: response.status, attempt: ctx.delivery.deliveryCount, ...(dedupKey ? { dedupKey } : {}) },
      { id: deliveryIds.delivered(task.id) },
    );
    ctx.log.info({ channel, target: name, status: response.status, attempt: ctx.delivery.deliveryCount, durationMs: response.durationMs }, `delivered to ${target.label}: ${task.data.summary}`);
  };
}
