import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Gauge, type Registry } from 'prom-client';
import { z } from 'zod';
import { describeError, escalation, escalationKey, StreamNames, type AgentbusRegistry } from '@agentbus/contracts';
import { Heartbeats, type Handler, type HandlerContext } from '@agentbus/bus';
import { isTimerConsumer, type ConsumerDefinition } from '@agentbus/streams';
import { judgeBus, newestHeartbeats, type BusLook, type ConsumerLook, type Finding, type WatchdogThresholds } from '../watchdog.ts';

export interface WatchdogDeps {
  nc: NatsConnection;
  heartbeats: Heartbeats;
  consumers: readonly ConsumerDefinition[];
  thresholds: WatchdogThresholds;
  intervalMs: number;
  metrics: WatchdogMetrics;
}

/** What the watchdog sees, exported on the health monitor's /metrics as well. */
export interface WatchdogMetrics {
  pending: Gauge;
  ackPending: Gauge;
  redelivered: Gauge;
  lastActive: Gauge;
  dlq: Gauge;
  heartbeatAge: Gauge;
  alerts: Gauge;
}

export function watchdogMetrics(registry: Registry): WatchdogMetrics {
  const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers: [registry] });
  return {
    pending: gauge('agentbus_consumer_pending', 'Messages not yet delivered, per consumer (the watchdog\'s last look)', ['stream', 'consumer']),
    ackPending: gauge('agentbus_consumer_ack_pending', 'Messages delivered and not yet acknowledged, per consumer', ['stream', 'consumer']),
    redelivered: gauge('agentbus_consumer_redelivered', 'Messages being redelivered, per consumer', ['stream', 'consumer']),
    lastActive: gauge('agentbus_consumer_last_active_age_seconds', 'Seconds since the consumer last delivered or had a message acknowledged', ['stream', 'consumer']),
    dlq: gauge('agentbus_dlq_messages', 'Dead letters in AGENT_DLQ'),
    heartbeatAge: gauge('agentbus_heartbeat_age_seconds', 'Seconds since the newest heartbeat of each service', ['target_service']),
    alerts: gauge('agentbus_watchdog_alerts_open', 'Watchdog alerts open, by condition', ['condition']),
  };
}

const openAlertSchema = z.object({ alertId: z.string(), condition: z.string(), subject: z.string(), service: z.string().optional(), summary: z.string(), since: z.string() });
type OpenAlert = z.infer<typeof openAlertSchema>;
const seenDlqSchema = z.object({ messages: z.number(), at: z.number() });

const alertKey = (alertId: string) => `alert.${alertId.replace(/[^A-Za-z0-9_=.-]/g, '_')}`;
const sinceMs = (alert: { since: string }) => Date.parse(alert.since);

/**
 * schedule.watchdog: one look at the bus (every heartbeat, every declared consumer's state, the
 * DLQ), judged by judgeBus. A condition that starts is told once, as watchdog.alert and a
 * `watchdog` escalation (its own incident: the alert's id is its correlation id); one that clears
 * is told as watchdog.resolved and escalation.resolved. The open alerts are kept in the watchdog
 * bucket between rounds, so the same condition is never told twice, however many rounds see it
 * (and however many health monitors run: the timer is one message). Stale heartbeats of a service
 * that has a fresh one (a restarted process) are removed. Then the timer is rescheduled.
 */
export function watchdogHandler(deps: WatchdogDeps): Handler<AgentbusRegistry, 'schedule.watchdog'> {
  return async (_timer, ctx) => {
    try {
      await watchOnce(deps, ctx);
    } catch (error) {
      // A round that could not run is tried at the next one.
      ctx.log.error({ err: describeError(error) }, 'watchdog round could not run');
    }
    if (deps.intervalMs > 0) ctx.redeliverIn(deps.intervalMs);
  };
}

async function watchOnce(deps: WatchdogDeps, ctx: HandlerContext<AgentbusRegistry>): Promise<void> {
  const look = await lookAtBus(deps);
  record(deps.metrics, look);
  const bucket = deps.heartbeats.bucket;
  const findings = judgeBus(look, deps.thresholds);
  const open = new Map<string, OpenAlert>();
  for (const key of await bucket.keys('alert.>')) {
    const alert = await bucket.getParsed(key, openAlertSchema);
    if (alert) open.set(alert.alertId, alert);
  }
  const now = new Date(look.now).toISOString();
  for (const finding of findings) {
    if (open.has(finding.alertId)) continue;
    const alert: OpenAlert = { alertId: finding.alertId, condition: finding.condition, subject: finding.subject, ...(finding.service ? { service: finding.service } : {}), summary: finding.summary, since: now };
    await raise(ctx, finding, alert);
    await bucket.put(alertKey(alert.alertId), JSON.stringify(alert));
    open.set(alert.alertId, alert);
    ctx.log.error({ alertId: alert.alertId, condition: alert.condition }, `watchdog: ${finding.summary}`);
  }
  const holding = new Set(findings.map((finding) => finding.alertId));
  for (const alert of [...open.values()].filter((a) => !holding.has(a.alertId))) {
    await resolve(ctx, alert, now);
    await bucket.delete(alertKey(alert.alertId));
    open.delete(alert.alertId);
    ctx.log.info({ alertId: alert.alertId }, `watchdog: resolved: ${alert.summary}`);
  }
  deps.metrics.alerts.reset();
  for (const alert of open.values()) deps.metrics.alerts.inc({ condition: alert.condition });
  await bucket.put('seen.dlq', JSON.stringify({ messages: look.dlq.messages, at: look.now }));
  // A restarted process writes a new instance: the old one's last heartbeat is only noise now.
  const newest = newestHeartbeats(look.heartbeats);
  for (const heartbeat of look.heartbeats) {
    const fresh = newest.get(heartbeat.service)!;
    if (heartbeat !== fresh && look.now - Date.parse(fresh.at) <= deps.thresholds.heartbeatTimeoutMs) await deps.heartbeats.remove(heartbeat.service, heartbeat.instance);
  }
}

async function lookAtBus(deps: WatchdogDeps): Promise<BusLook> {
  const jsm = await jetstreamManager(deps.nc, { checkAPI: false });
  const consumers = await Promise.all(
    deps.consumers.map(async (definition): Promise<ConsumerLook | undefined> => {
      try {
        const info = await jsm.consumers.info(definition.stream, definition.durable);
        // The server sends RFC 3339 times (the client's type says a number): absent until the first delivery or ack.
        const at = (value: unknown) => (typeof value === 'string' ? Date.parse(value) : undefined);
        return {
          stream: definition.stream,
          consumer: definition.durable,
          service: definition.service,
          timers: isTimerConsumer(definition),
          pending: info.num_pending,
          ackPending: info.num_ack_pending,
          maxAckPending: info.config.max_ack_pending ?? 0,
          redelivered: info.num_redelivered,
          waiting: info.num_waiting,
          lastDelivered: at(info.delivered.last_active),
          lastAcked: at(info.ack_floor.last_active),
          created: Date.parse(info.created),
        };
      } catch {
        return undefined; // not there (yet): `streams apply` reports it, not the watchdog
      }
    }),
  );
  const dlq = await jsm.streams.info(StreamNames.dlq);
  return {
    now: Date.now(),
    heartbeats: await deps.heartbeats.list(),
    consumers: consumers.filter((c): c is ConsumerLook => c !== undefined),
    dlq: { messages: dlq.state.messages },
    previousDlq: await deps.heartbeats.bucket.getParsed('seen.dlq', seenDlqSchema),
  };
}

function record(metrics: WatchdogMetrics, look: BusLook): void {
  for (const c of look.consumers) {
    const labels = { stream: c.stream, consumer: c.consumer };
    metrics.pending.set(labels, c.pending);
    metrics.ackPending.set(labels, c.ackPending);
    metrics.redelivered.set(labels, c.redelivered);
    const last = Math.max(c.lastDelivered ?? c.created, c.lastAcked ?? c.created);
    metrics.lastActive.set(labels, Math.max(0, (look.now - last) / 1000));
  }
  metrics.dlq.set(look.dlq.messages);
  for (const [service, heartbeat] of newestHeartbeats(look.heartbeats)) metrics.heartbeatAge.set({ target_service: service }, Math.max(0, (look.now - Date.parse(heartbeat.at)) / 1000));
}

/** The incident of one alert: its id and when it started. */
const incidentOf = (alert: OpenAlert) => `watchdog.${alert.alertId}.${sinceMs(alert)}`;

function escalationOf(alert: OpenAlert, finding: Finding) {
  return escalation({
    kind: 'watchdog',
    severity: alert.condition === 'heartbeat-missing' || alert.condition === 'consumer-stalled' ? 'critical' : 'error',
    ...(alert.service ? { service: alert.service } : {}),
    summary: alert.summary,
    details: { condition: alert.condition, subject: alert.subject, since: alert.since, ...finding.facts },
    about: [alert.alertId],
    occurrence: [alert.alertId, sinceMs(alert)], // each time it starts again is a page of its own
  });
}

async function raise(ctx: HandlerContext<AgentbusRegistry>, finding: Finding, alert: OpenAlert): Promise<void> {
  const incident = incidentOf(alert);
  await ctx.publish('watchdog.alert', { ...alert, facts: finding.facts } as never, { id: incident, correlationId: incident });
  const raised = escalationOf(alert, finding);
  await ctx.publish('escalation.raised', raised.data, { id: raised.id, correlationId: incident });
}

async function resolve(ctx: HandlerContext<AgentbusRegistry>, alert: OpenAlert, now: string): Promise<void> {
  const incident = incidentOf(alert);
  await ctx.publish('watchdog.resolved', { ...alert, resolvedAt: now } as never, { id: `${incident}.resolved`, correlationId: incident });
  await ctx.publish('escalation.resolved', { dedupKey: escalationKey('watchdog', [alert.alertId]), ...(alert.service ? { service: alert.service } : {}), summary: `resolved: ${alert.summary}`.slice(0, 1024) }, { id: `${incident}.escalation-resolved`, correlationId: incident });
}
