import { createHash } from 'node:crypto';

/**
 * Deterministic message ids of the notifier's deliveries: publishing the same delivery again
 * inside the streams' duplicate window (a redelivered event, a restart mid-handler) stores it
 * once. Envelope ids allow letters, digits, `_ = -` and inner dots, 200 characters at most; a
 * part that does not fit (a long or unusual dedupKey) is replaced by its SHA-256.
 */

const SAFE_PART = /^[A-Za-z0-9_=-]([A-Za-z0-9._=-]*[A-Za-z0-9_=-])?$/;
const MAX_PART = 100;

/** `text` as it is when it is a valid id part of at most 100 characters, else `h-<sha256, 40 hex>`. */
export function idPart(text: string): string {
  return text.length <= MAX_PART && SAFE_PART.test(text) ? text : `h-${createHash('sha256').update(text).digest('hex').slice(0, 40)}`;
}

/** The configured targets' names for the channels that have one target each. */
export const PAGERDUTY_TARGET = 'pagerduty';
export const TICKET_TARGET = 'ticket';

export const deliveryIds = {
  /** The page for an escalation: one per dedupKey. */
  pageTrigger: (dedupKey: string) => `page.trigger.${idPart(dedupKey)}`,
  pageResolve: (dedupKey: string) => `page.resolve.${idPart(dedupKey)}`,
  /** One chat message per chat target and update event. */
  chat: (target: string, eventId: string) => `chat.${idPart(target)}.${idPart(eventId)}`,
  /** One ticket per incident. */
  ticket: (incidentId: string) => `ticket.${idPart(incidentId)}`,
  /** The escalation.resolved the notifier announces when a paged service is verified healthy. */
  escalationResolved: (dedupKey: string) => `escalation.resolved.${idPart(dedupKey)}`,
  /** notification.delivered for a delivery task. */
  delivered: (taskId: string) => `${idPart(taskId)}.delivered`,
};
