import { z } from 'zod';
import { defineMessage } from '../registry.ts';
import { eventSubject, scheduleSubject } from '../subjects.ts';
import { isoTime, outsideText, serviceName } from './fields.ts';

/**
 * The bus watchdog (seeds 000 and 002: "it fails silently"): "connected" is not "consuming", so
 * it watches what the services and their consumers do, not their connections.
 * - `heartbeat-missing`: a service sent no heartbeat for the configured time (it died, or it is cut off from NATS);
 * - `consumer-stalled`: messages wait and nothing is delivered (a connected client that stopped
 *   pulling), or every slot is taken and nothing is acknowledged (one that pulls and never acks);
 * - `consumer-backlog`: more messages wait than the threshold;
 * - `redelivery-storm`: more messages are being redelivered than the threshold (a poison storm);
 * - `dlq-growth`: the dead-letter stream grows faster than the threshold.
 */
export const WatchdogConditions = ['heartbeat-missing', 'consumer-stalled', 'consumer-backlog', 'redelivery-storm', 'dlq-growth'] as const;
export type WatchdogCondition = (typeof WatchdogConditions)[number];

const alertFields = {
  /** `<condition>.<what>`: one alert per condition and thing, for as long as it lasts. */
  alertId: z.string().min(1).max(200),
  condition: z.enum(WatchdogConditions),
  /** What it is about: a service, `<stream>/<consumer>`, or AGENT_DLQ. */
  subject: z.string().min(1).max(200),
  service: serviceName.optional(),
  summary: outsideText({ min: 1, max: 1_024 }),
};

export const watchdogAlert = defineMessage({
  type: 'watchdog.alert',
  kind: 'event',
  subject: eventSubject('watchdog.alert'),
  description: 'The watchdog found something failing silently: a service without heartbeats, a stalled consumer, a growing backlog, a redelivery storm, a growing DLQ. Once per condition, until it clears.',
  schema: z.object({ ...alertFields, since: isoTime, facts: z.record(z.string(), z.unknown()) }),
});

export const watchdogResolved = defineMessage({
  type: 'watchdog.resolved',
  kind: 'event',
  subject: eventSubject('watchdog.resolved'),
  description: 'A condition the watchdog alerted on has cleared.',
  schema: z.object({ ...alertFields, since: isoTime, resolvedAt: isoTime }),
});

/** One watchdog round at a time for the whole bus, however many health monitors run: a durable timer, like the watch. */
export const watchdogTimer = defineMessage({
  type: 'schedule.watchdog',
  kind: 'timer',
  subject: scheduleSubject('watchdog'),
  description: 'The bus watchdog: heartbeats, consumers and the DLQ looked at each time it comes due, then rescheduled.',
  schema: z.strictObject({}),
});
