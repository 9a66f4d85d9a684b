import { createHash } from 'node:crypto';
import { cutToLength, safeLine, safeText, type AgentbusRegistry, type DataOf, type EnvelopeOf } from '@agentbus/contracts';
import { fitText } from './format.ts';

/**
 * PagerDuty Events API v2 (POST /v2/enqueue). The event is built without its routing key: the
 * key is a secret, so it stays in the configuration and is added by the delivery
 * (addressPagerDutyEvent), never carried in a message on the bus.
 */

type EscalationRaised = EnvelopeOf<AgentbusRegistry, 'escalation.raised'>;
export type EscalationKind = DataOf<AgentbusRegistry, 'escalation.raised'>['kind'];

/**
 * PagerDuty's limits (developer.pagerduty.com, Events API v2: "Send an Alert Event" and the
 * overview): `payload.summary` at most 1,024 characters, `dedup_key` at most 255, a request at
 * most 512 KB (counted as 512,000 bytes of JSON, the routing key's room included); the routing
 * key is checked when the registry is loaded (@agentbus/fleet). PagerDuty documents no limit for
 * `source`, `component`, `group` and `class`: agentbus keeps each to one line of 255 characters.
 */
export const PAGERDUTY_MAX_SUMMARY = 1024;
export const PAGERDUTY_MAX_DEDUP_KEY = 255;
export const PAGERDUTY_MAX_EVENT_BYTES = 512_000;
const MAX_NAME = 255;
/** `,"routing_key":"<32 characters>"`, added at delivery. */
const ROUTING_KEY_ROOM = 50;
/** Each text in custom_details; nesting deeper than this is left out (a hand-published escalation can hold anything). */
const MAX_DETAIL_TEXT = 8_000;
const MAX_DETAIL_DEPTH = 16;

/** `payload.group`: the part of the platform that raised the escalation. */
export const escalationGroups: Record<EscalationKind, string> = {
  'unattributed-failure': 'rollback',
  'rollback-failed': 'rollback',
  'lease-conflict': 'deploy',
  'chain-break': 'state',
  'prolonged-unhealthy': 'health',
  inconclusive: 'health',
  'release-triage': 'release',
  watchdog: 'bus',
  drift: 'lockdown',
};

export type PagerDutyLink = { href: string; text: string };

export type PagerDutyTrigger = {
  event_action: 'trigger';
  dedup_key: string;
  client: string;
  payload: {
    summary: string;
    source: string;
    severity: 'critical' | 'error' | 'warning' | 'info';
    timestamp: string;
    component?: string;
    group: string;
    class: EscalationKind;
    custom_details: Record<string, unknown>;
  };
  links?: PagerDutyLink[];
};

export type PagerDutyResolve = { event_action: 'resolve'; dedup_key: string };

export type PagerDutyEvent = PagerDutyTrigger | PagerDutyResolve;

/** What is POSTed: the event and the integration's routing key. */
export type PagerDutyRequest = PagerDutyEvent & { routing_key: string };

export interface PagerDutyTriggerOptions {
  /** `payload.source`: the configured `notifications.pagerduty.source`. */
  source: string;
  links?: PagerDutyLink[];
}

/**
 * The dedup_key PagerDuty gets for an escalation's dedupKey: the key itself, or, when it is over
 * PagerDuty's 255 characters or not safe to show as it is (a control character, half an emoji),
 * its start made safe and a SHA-256 of the whole key (the same for trigger and resolve, so they
 * still meet; two keys with one start stay apart).
 */
export function pagerDutyDedupKey(dedupKey: string): string {
  const shown = safeLine(dedupKey, Number.MAX_SAFE_INTEGER);
  if (dedupKey.length <= PAGERDUTY_MAX_DEDUP_KEY && shown === dedupKey) return dedupKey;
  return `${cutToLength(shown, PAGERDUTY_MAX_DEDUP_KEY - 65)}.${createHash('sha256').update(dedupKey).digest('hex')}`;
}

/** Escalation details as PagerDuty shows them: every text made safe and bounded, nesting bounded. */
function safeDetails(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return safeText(value, { max: MAX_DETAIL_TEXT });
  if (value === null || typeof value !== 'object') return typeof value === 'number' || typeof value === 'boolean' ? value : value === undefined ? null : safeLine(String(value));
  if (depth >= MAX_DETAIL_DEPTH) return `[nested deeper than ${MAX_DETAIL_DEPTH} levels: left out]`;
  if (Array.isArray(value)) return value.map((item) => safeDetails(item, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [safeLine(key, 200), safeDetails(item, depth + 1)]));
}

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

/**
 * A page for an escalation: `dedup_key` is the escalation's dedupKey (stable per incident and
 * kind, so a repeat updates the same PagerDuty incident), `class` its kind, `component` the
 * service, `timestamp` when it was raised; custom_details carry its details and where it came from.
 * Every text is made safe and kept to PagerDuty's limits; details that would take the event over
 * 512 KB are left out, with a note saying so (the escalation event on the bus keeps them).
 */
export function pagerDutyTrigger(escalation: EscalationRaised, options: PagerDutyTriggerOptions): PagerDutyTrigger {
  const { data } = escalation;
  const line = (text: string, max: number, fallback: string) => fitText(text, max, { multiline: false, fallback });
  const origin = { kind: data.kind, incidentId: line(escalation.correlationId, 1_000, '-'), raisedBy: line(escalation.source, MAX_NAME, '-'), escalationId: escalation.id };
  const trigger: PagerDutyTrigger = {
    event_action: 'trigger',
    dedup_key: pagerDutyDedupKey(data.dedupKey),
    client: 'agentbus',
    payload: {
      summary: line(data.summary, PAGERDUTY_MAX_SUMMARY, `${data.service ?? 'agentbus'}: ${data.kind}`),
      source: line(options.source, MAX_NAME, 'agentbus'),
      severity: data.severity,
      timestamp: escalation.time,
      ...(data.service ? { component: line(data.service, MAX_NAME, '-') } : {}),
      group: escalationGroups[data.kind],
      class: data.kind,
      custom_details: { ...(safeDetails(data.details, 0) as Record<string, unknown>), ...origin },
    },
    ...(options.links?.length ? { links: options.links.map((link) => ({ href: link.href, text: line(link.text, 1_000, '-') })) } : {}),
  };
  const bytes = jsonBytes(trigger) + ROUTING_KEY_ROOM;
  if (bytes <= PAGERDUTY_MAX_EVENT_BYTES) return trigger;
  const detailsLeftOut = `the escalation's details would make this event ${bytes} bytes, over PagerDuty's ${PAGERDUTY_MAX_EVENT_BYTES}; they are in the escalation event ${escalation.id} on the bus`;
  return { ...trigger, payload: { ...trigger.payload, custom_details: { ...origin, detailsLeftOut } } };
}

/** Closes the PagerDuty incident opened for `dedupKey`. */
export function pagerDutyResolve(dedupKey: string): PagerDutyResolve {
  return { event_action: 'resolve', dedup_key: pagerDutyDedupKey(dedupKey) };
}

/** The request body: the event with the routing key from the configuration (never from a message). */
export function addressPagerDutyEvent<E extends PagerDutyEvent>(event: E, routingKey: string): E & { routing_key: string } {
  return { ...event, routing_key: routingKey };
}
