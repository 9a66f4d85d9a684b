import { createHash } from 'node:crypto';
import type { AgentbusRegistry, DataOf, EnvelopeOf } from '@agentbus/contracts';
import { truncate } from './format.ts';

/**
 * PagerDuty Events API v2 (POST /v2/enqueue). The event is built without its routing key: the
 * key is a secret, so it stays in the configuration and is added by the delivery
 * (addressPagerDutyEvent), never carried in a message on the bus.
 */

type EscalationRaised = EnvelopeOf<AgentbusRegistry, 'escalation.raised'>;
export type EscalationKind = DataOf<AgentbusRegistry, 'escalation.raised'>['kind'];

/** PagerDuty's own limits. */
export const PAGERDUTY_MAX_SUMMARY = 1024;
export const PAGERDUTY_MAX_DEDUP_KEY = 255;

/** `payload.group`: the part of the platform that raised the escalation. */
export const escalationGroups: Record<EscalationKind, string> = {
  'unattributed-failure': 'rollback',
  'rollback-failed': 'rollback',
  'lease-conflict': 'deploy',
  'chain-break': 'state',
  'prolonged-unhealthy': 'health',
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
 * PagerDuty's 255 characters, its start and a SHA-256 of the whole (the same for trigger and
 * resolve, so they still meet).
 */
export function pagerDutyDedupKey(dedupKey: string): string {
  if (dedupKey.length <= PAGERDUTY_MAX_DEDUP_KEY) return dedupKey;
  return `${dedupKey.slice(0, 180)}.${createHash('sha256').update(dedupKey).digest('hex')}`;
}

/**
 * A page for an escalation: `dedup_key` is the escalation's dedupKey (stable per incident and
 * kind, so a repeat updates the same PagerDuty incident), `class` its kind, `component` the
 * service, `timestamp` when it was raised; custom_details carry its details and where it came from.
 */
export function pagerDutyTrigger(escalation: EscalationRaised, options: PagerDutyTriggerOptions): PagerDutyTrigger {
  const { data } = escalation;
  return {
    event_action: 'trigger',
    dedup_key: pagerDutyDedupKey(data.dedupKey),
    client: 'agentbus',
    payload: {
      summary: truncate(data.summary, PAGERDUTY_MAX_SUMMARY),
      source: options.source,
      severity: data.severity,
      timestamp: escalation.time,
      ...(data.service ? { component: data.service } : {}),
      group: escalationGroups[data.kind],
      class: data.kind,
      custom_details: { ...data.details, kind: data.kind, incidentId: escalation.correlationId, raisedBy: escalation.source, escalationId: escalation.id },
    },
    ...(options.links?.length ? { links: options.links } : {}),
  };
}

/** Closes the PagerDuty incident opened for `dedupKey`. */
export function pagerDutyResolve(dedupKey: string): PagerDutyResolve {
  return { event_action: 'resolve', dedup_key: pagerDutyDedupKey(dedupKey) };
}

/** The request body: the event with the routing key from the configuration (never from a message). */
export function addressPagerDutyEvent<E extends PagerDutyEvent>(event: E, routingKey: string): E & { routing_key: string } {
  return { ...event, routing_key: routingKey };
}
