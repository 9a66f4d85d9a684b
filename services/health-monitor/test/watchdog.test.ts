import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Heartbeat } from '@agentbus/bus';
import { judgeBus, type BusLook, type ConsumerLook } from '../src/watchdog.ts';

const limits = { heartbeatTimeoutMs: 60_000, stallMs: 120_000, backlogMax: 1_000, redeliveredMax: 100, dlqPerMinuteMax: 20 };
const now = Date.parse('2026-12-02T03:00:00Z');
const ago = (ms: number) => now - ms;
const heartbeat = (service: string, msAgo: number, instance = 'h-1'): Heartbeat => ({ service, instance, version: '0.1.0', consumers: [], ready: true, at: new Date(ago(msAgo)).toISOString() });
const consumer = (overrides: Partial<ConsumerLook>): ConsumerLook => ({
  stream: 'AGENT_EVENTS', consumer: 'notifier', service: 'notifier', timers: false, pending: 0, ackPending: 0, maxAckPending: 1_000, redelivered: 0, waiting: 1,
  lastDelivered: ago(1_000), lastAcked: ago(1_000), created: ago(86_400_000), ...overrides,
});
const look = (overrides: Partial<BusLook>): BusLook => ({ now, heartbeats: [], consumers: [], dlq: { messages: 0 }, previousDlq: undefined, ...overrides });
const ids = (l: BusLook) => judgeBus(l, limits).map((f) => f.alertId);

test('heartbeats: a service whose newest heartbeat is older than the timeout is missing; a restarted one (a fresh instance beside its old one) is not', () => {
  assert.deepEqual(ids(look({ heartbeats: [heartbeat('deployer', 5_000), heartbeat('notifier', 61_000)] })), ['heartbeat-missing.notifier']);
  assert.deepEqual(ids(look({ heartbeats: [heartbeat('notifier', 600_000, 'old'), heartbeat('notifier', 2_000, 'new')] })), []);
  assert.deepEqual(ids(look({ heartbeats: [heartbeat('notifier', 60_000)] })), [], 'at the timeout exactly: not yet');
});

test('consumers: waiting messages and no delivery for stallMs is stalled (stopped pulling); every slot taken and no ack is stalled (pulls, never acks); an idle consumer and a busy one are not', () => {
  const stopped = consumer({ pending: 5, waiting: 0, lastDelivered: ago(121_000) });
  assert.deepEqual(ids(look({ consumers: [stopped] })), ['consumer-stalled.AGENT_EVENTS.notifier']);
  assert.match(judgeBus(look({ consumers: [stopped] }), limits)[0]!.summary, /5 message\(s\) wait and nothing was delivered for 121 s \(0 pull request\(s\) waiting\)/);
  assert.deepEqual(ids(look({ consumers: [consumer({ pending: 5, lastDelivered: undefined, created: ago(200_000) })] })), ['consumer-stalled.AGENT_EVENTS.notifier'], 'never delivered: counted from its creation');
  assert.deepEqual(ids(look({ consumers: [consumer({ ackPending: 1_000, lastAcked: ago(130_000), lastDelivered: ago(1_000) })] })), ['consumer-stalled.AGENT_EVENTS.notifier']);
  assert.deepEqual(ids(look({ consumers: [consumer({ pending: 0, lastDelivered: ago(10_000_000) })] })), [], 'idle: nothing waits');
  assert.deepEqual(ids(look({ consumers: [consumer({ pending: 3, lastDelivered: ago(5_000) })] })), [], 'delivering');
  assert.deepEqual(ids(look({ consumers: [consumer({ ackPending: 8, maxAckPending: 1_000, lastAcked: ago(3_600_000) })] })), [], 'long handlers with free slots (a release holds its message for an hour)');
  assert.deepEqual(ids(look({ consumers: [consumer({ timers: true, pending: 20_000, ackPending: 20_000, maxAckPending: 20_000, lastAcked: ago(9_000_000) })] })), [], 'timers wait on purpose');
});

test('backlogs and redelivery storms past their thresholds; the DLQ growing faster than its rate', () => {
  assert.deepEqual(ids(look({ consumers: [consumer({ pending: 1_001 })] })), ['consumer-backlog.AGENT_EVENTS.notifier']);
  assert.deepEqual(ids(look({ consumers: [consumer({ redelivered: 101 })] })), ['redelivery-storm.AGENT_EVENTS.notifier']);
  assert.deepEqual(ids(look({ dlq: { messages: 40 }, previousDlq: { messages: 10, at: ago(60_000) } })), ['dlq-growth.AGENT_DLQ'], '30 in a minute');
  assert.deepEqual(ids(look({ dlq: { messages: 20 }, previousDlq: { messages: 10, at: ago(60_000) } })), [], '10 in a minute');
  assert.deepEqual(ids(look({ dlq: { messages: 40 } })), [], 'no earlier look: no rate yet');
  assert.deepEqual(ids(look({ dlq: { messages: 0 }, previousDlq: { messages: 30, at: ago(1_000) } })), [], 'redriven: it shrank');
});
