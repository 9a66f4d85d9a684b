import type { Heartbeat } from '@agentbus/bus';
import type { WatchdogCondition } from '@agentbus/contracts';

/**
 * The bus watchdog's judgment, as a pure function of one look at the bus: what fails silently
 * now. The handler (handlers/watchdog.ts) takes the look, keeps the open alerts and tells them;
 * this decides. Rules after guardrails §4 (what `nats server check consumer` checks, on 2.9.10's
 * consumer info): messages waiting and no delivery for `stallMs` (a client that stopped pulling:
 * its pull requests expire, `num_waiting` drops to 0), or every slot taken and no ack for
 * `stallMs` (one that pulls and never acks); timers' consumers are left out (their messages wait
 * on purpose).
 */

export interface WatchdogThresholds {
  heartbeatTimeoutMs: number;
  stallMs: number;
  backlogMax: number;
  redeliveredMax: number;
  dlqPerMinuteMax: number;
}

export interface ConsumerLook {
  stream: string;
  consumer: string;
  service: string;
  /** A consumer of durable timers: its messages wait on purpose. */
  timers: boolean;
  pending: number;
  ackPending: number;
  maxAckPending: number;
  redelivered: number;
  waiting: number;
  /** ms since the epoch; undefined: never. */
  lastDelivered: number | undefined;
  lastAcked: number | undefined;
  created: number;
}

export interface BusLook {
  now: number;
  heartbeats: readonly Heartbeat[];
  consumers: readonly ConsumerLook[];
  dlq: { messages: number };
  /** The DLQ at the previous look, when there was one. */
  previousDlq: { messages: number; at: number } | undefined;
}

export interface Finding {
  alertId: string;
  condition: WatchdogCondition;
  subject: string;
  service?: string;
  summary: string;
  facts: Record<string, unknown>;
}

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;

/** Every condition that holds in `look`, one finding per condition and thing. */
export function judgeBus(look: BusLook, limits: WatchdogThresholds): Finding[] {
  return [...heartbeatFindings(look, limits), ...look.consumers.flatMap((consumer) => consumerFindings(consumer, look.now, limits)), ...dlqFindings(look, limits)];
}

/** The newest heartbeat of each service that ever sent one: missing when it is older than the timeout. */
export function newestHeartbeats(heartbeats: readonly Heartbeat[]): Map<string, Heartbeat> {
  const newest = new Map<string, Heartbeat>();
  for (const heartbeat of heartbeats) {
    const known = newest.get(heartbeat.service);
    if (!known || Date.parse(heartbeat.at) > Date.parse(known.at)) newest.set(heartbeat.service, heartbeat);
  }
  return newest;
}

function heartbeatFindings(look: BusLook, limits: WatchdogThresholds): Finding[] {
  return [...newestHeartbeats(look.heartbeats).values()].flatMap((heartbeat): Finding[] => {
    const age = look.now - Date.parse(heartbeat.at);
    if (!(age > limits.heartbeatTimeoutMs)) return [];
    return [{
      alertId: `heartbeat-missing.${heartbeat.service}`,
      condition: 'heartbeat-missing',
      subject: heartbeat.service,
      service: heartbeat.service,
      summary: `${heartbeat.service} sent no heartbeat for ${seconds(age)} (the last from ${heartbeat.instance} at ${heartbeat.at}): it died, or it is cut off from NATS`,
      facts: { lastHeartbeat: heartbeat.at, ageMs: age, instance: heartbeat.instance, consumers: heartbeat.consumers },
    }];
  });
}

function consumerFindings(c: ConsumerLook, now: number, limits: WatchdogThresholds): Finding[] {
  if (c.timers) return [];
  const name = `${c.stream}/${c.consumer}`;
  const id = `${c.stream}.${c.consumer}`;
  const facts = { stream: c.stream, consumer: c.consumer, pending: c.pending, ackPending: c.ackPending, maxAckPending: c.maxAckPending, redelivered: c.redelivered, waitingPulls: c.waiting };
  const findings: Finding[] = [];
  const sinceDelivered = now - (c.lastDelivered ?? c.created);
  const sinceAcked = now - (c.lastAcked ?? c.created);
  const full = c.maxAckPending > 0 && c.ackPending >= c.maxAckPending;
  if (c.pending > 0 && sinceDelivered > limits.stallMs) {
    findings.push({
      alertId: `consumer-stalled.${id}`,
      condition: 'consumer-stalled',
      subject: name,
      service: c.service,
      summary: `${name} (${c.service}) is stalled: ${c.pending} message(s) wait and nothing was delivered for ${seconds(sinceDelivered)} (${c.waiting} pull request(s) waiting)`,
      facts: { ...facts, sinceDeliveredMs: sinceDelivered },
    });
  } else if (full && sinceAcked > limits.stallMs) {
    findings.push({
      alertId: `consumer-stalled.${id}`,
      condition: 'consumer-stalled',
      subject: name,
      service: c.service,
      summary: `${name} (${c.service}) is stalled: every slot is taken (${c.ackPending} of ${c.maxAckPending} unacknowledged) and nothing was acknowledged for ${seconds(sinceAcked)}`,
      facts: { ...facts, sinceAckedMs: sinceAcked },
    });
  }
  if (c.pending > limits.backlogMax) {
    findings.push({ alertId: `consumer-backlog.${id}`, condition: 'consumer-backlog', subject: name, service: c.service, summary: `${name} (${c.service}) has a backlog: ${c.pending} message(s) wait (more than ${limits.backlogMax})`, facts });
  }
  if (c.redelivered > limits.redeliveredMax) {
    findings.push({ alertId: `redelivery-storm.${id}`, condition: 'redelivery-storm', subject: name, service: c.service, summary: `${name} (${c.service}) redelivers ${c.redelivered} message(s) (more than ${limits.redeliveredMax}): a poison storm, or a handler that keeps failing`, facts });
  }
  return findings;
}

function dlqFindings(look: BusLook, limits: WatchdogThresholds): Finding[] {
  const previous = look.previousDlq;
  if (!previous || look.now <= previous.at) return [];
  const added = look.dlq.messages - previous.messages;
  const perMinute = (added * 60_000) / (look.now - previous.at);
  if (!(perMinute > limits.dlqPerMinuteMax)) return [];
  return [{
    alertId: 'dlq-growth.AGENT_DLQ',
    condition: 'dlq-growth',
    subject: 'AGENT_DLQ',
    summary: `the DLQ grows: ${added} dead letter(s) in ${seconds(look.now - previous.at)} (${Math.round(perMinute)}/min, more than ${limits.dlqPerMinuteMax}/min); ${look.dlq.messages} in all`,
    facts: { added, perMinute: Math.round(perMinute), messages: look.dlq.messages },
  }];
}
