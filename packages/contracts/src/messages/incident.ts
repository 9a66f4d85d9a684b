import { z } from 'zod';
import { defineMessage } from '../registry.ts';
import { eventSubject, taskSubject } from '../subjects.ts';
import { isoTime, outsideText, serviceName } from './fields.ts';

/** Outgoing channels of the notifier. */
export const NotificationChannels = ['pagerduty', 'chat', 'ticket'] as const;

/**
 * One outgoing webhook delivery, retried through the bus (nak with backoff) and dead-lettered
 * when every attempt failed. The message names a configured target; the URL and any token stay
 * in the configuration (a message never carries a secret or chooses where to send).
 */
export const notifierDeliverTask = defineMessage({
  type: 'notifier.deliver',
  kind: 'task',
  subject: taskSubject('notifier', 'deliver'),
  description: 'POST one notification (a page, a chat message or a ticket) to a configured target; retried, then dead-lettered.',
  schema: z.strictObject({
    channel: z.enum(NotificationChannels),
    /** The configured target's name (chat targets have names; pagerduty and ticket have one each). */
    target: z.string().min(1).max(100),
    incidentId: z.string().min(1),
    /** PagerDuty's dedup_key, for pages. */
    dedupKey: z.string().min(1).optional(),
    /** What the message is, for people reading the DLQ. */
    summary: outsideText({ max: 1024 }),
    /** The JSON body sent as it is. */
    body: z.record(z.string(), z.unknown()),
  }),
});

export const notificationDelivered = defineMessage({
  type: 'notification.delivered',
  kind: 'event',
  subject: eventSubject('notification.delivered'),
  description: 'A webhook accepted a notification (2xx).',
  schema: z.object({
    channel: z.enum(NotificationChannels),
    target: z.string(),
    incidentId: z.string(),
    deliveryId: z.string(),
    status: z.number().int(),
    attempt: z.number().int().positive(),
    dedupKey: z.string().optional(),
  }),
});

export const postmortemWritten = defineMessage({
  type: 'postmortem.written',
  kind: 'event',
  subject: eventSubject('postmortem.written'),
  description: 'A post-mortem was written (version 1) or updated (a new version) from the incident\'s events.',
  schema: z.object({
    incidentId: z.string().min(1),
    service: serviceName.optional(),
    outcome: z.string(),
    path: z.string(),
    version: z.number().int().positive(),
    file: z.string().optional(),
    events: z.number().int().nonnegative(),
  }),
});

export const healthRecovered = defineMessage({
  type: 'health.recovered',
  kind: 'event',
  subject: eventSubject('health.recovered'),
  description: 'A watched service that was unhealthy answers healthy again.',
  schema: z.object({ service: serviceName, unhealthySince: isoTime, recoveredAt: isoTime, unhealthyMs: z.number().nonnegative() }),
});
