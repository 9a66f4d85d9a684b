import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressPagerDutyEvent, pagerDutyDedupKey, pagerDutyResolve, pagerDutyTrigger, type EscalationKind } from '@agentbus/notify';
import { envelope, INCIDENT } from './fixtures.ts';

const raised = (kind: EscalationKind, overrides: { summary?: string; dedupKey?: string; service?: string | null } = {}) =>
  envelope(
    'escalation.raised',
    {
      dedupKey: overrides.dedupKey ?? `agentbus.${kind}.${INCIDENT}`,
      kind,
      severity: 'critical',
      ...(overrides.service === null ? {} : { service: overrides.service ?? 'primerouter' }),
      summary: overrides.summary ?? 'primerouter: rolling back feature/cache failed at push: remote rejected',
      details: { deploymentId: INCIDENT, stage: 'push' },
    },
    { id: `escalation.${kind}.${INCIDENT}`, ms: 80_000, source: 'rollback' },
  );

test('trigger: every field of a PagerDuty Events API v2 trigger, from the escalation', () => {
  const event = raised('rollback-failed');
  const trigger = pagerDutyTrigger(event, { source: 'agentbus-prod' });
  assert.equal(trigger.event_action, 'trigger');
  assert.equal(trigger.dedup_key, `agentbus.rollback-failed.${INCIDENT}`);
  assert.equal(trigger.client, 'agentbus');
  assert.equal(trigger.payload.summary, 'primerouter: rolling back feature/cache failed at push: remote rejected');
  assert.equal(trigger.payload.source, 'agentbus-prod');
  assert.equal(trigger.payload.severity, 'critical');
  assert.equal(trigger.payload.timestamp, '2024-05-01T03:53:20.000Z');
  assert.equal(trigger.payload.component, 'primerouter');
  assert.equal(trigger.payload.group, 'rollback');
  assert.equal(trigger.payload.class, 'rollback-failed');
  assert.deepEqual(trigger.payload.custom_details, {
    deploymentId: INCIDENT,
    stage: 'push',
    kind: 'rollback-failed',
    incidentId: INCIDENT,
    raisedBy: 'rollback',
    escalationId: `escalation.rollback-failed.${INCIDENT}`,
  });
  assert.equal('links' in trigger, false, 'no links unless given');
  assert.equal('routing_key' in trigger, false, 'the routing key is added at delivery, never carried on the bus');
  assert.deepEqual(Object.keys(trigger).sort(), ['client', 'dedup_key', 'event_action', 'payload']);
});

test('trigger: group names the part of the platform for each kind; no component without a service; links when given', () => {
  const groups = Object.fromEntries((['unattributed-failure', 'rollback-failed', 'lease-conflict', 'chain-break', 'prolonged-unhealthy'] as const).map((kind) => [kind, pagerDutyTrigger(raised(kind), { source: 's' }).payload.group]));
  assert.deepEqual(groups, { 'unattributed-failure': 'rollback', 'rollback-failed': 'rollback', 'lease-conflict': 'deploy', 'chain-break': 'state', 'prolonged-unhealthy': 'health' });
  const chainBreak = pagerDutyTrigger(raised('chain-break', { service: null }), { source: 's', links: [{ href: 'https://ops.example/runbook', text: 'runbook' }] });
  assert.equal('component' in chainBreak.payload, false);
  assert.deepEqual(chainBreak.links, [{ href: 'https://ops.example/runbook', text: 'runbook' }]);
});

test('trigger: the summary is kept to PagerDuty\'s 1024 characters; a dedup key over 255 is shortened the same way for trigger and resolve', () => {
  const long = pagerDutyTrigger(raised('prolonged-unhealthy', { summary: 'x'.repeat(1024) }), { source: 's' });
  assert.equal(long.payload.summary.length, 1024);
  const key = `agentbus.lease-conflict.${'k'.repeat(300)}`;
  const trigger = pagerDutyTrigger(raised('lease-conflict', { dedupKey: key }), { source: 's' });
  assert.ok(trigger.dedup_key.length <= 255);
  assert.match(trigger.dedup_key, /^agentbus\.lease-conflict\.k+ … \[\d+ characters cut\]\.[0-9a-f]{64}$/);
  assert.equal(pagerDutyResolve(key).dedup_key, trigger.dedup_key);
  assert.notEqual(pagerDutyDedupKey(`${key}x`), trigger.dedup_key, 'two long keys with one start stay apart');
  assert.equal(pagerDutyDedupKey('short'), 'short');
});

test('resolve: event_action resolve with the escalation\'s dedup key; addressing adds the routing key', () => {
  assert.deepEqual(pagerDutyResolve(`agentbus.rollback-failed.${INCIDENT}`), { event_action: 'resolve', dedup_key: `agentbus.rollback-failed.${INCIDENT}` });
  assert.deepEqual(addressPagerDutyEvent(pagerDutyResolve('k1'), 'R0UT1NGKEY'), { event_action: 'resolve', dedup_key: 'k1', routing_key: 'R0UT1NGKEY' });
  const trigger = pagerDutyTrigger(raised('chain-break'), { source: 's' });
  const addressed = addressPagerDutyEvent(trigger, 'R0UT1NGKEY');
  assert.equal(addressed.routing_key, 'R0UT1NGKEY');
  assert.deepEqual({ ...addressed, routing_key: undefined }, { ...trigger, routing_key: undefined });
  const forged = addressPagerDutyEvent({ ...trigger, routing_key: 'FROM-A-MESSAGE' } as typeof trigger, 'R0UT1NGKEY');
  assert.equal(forged.routing_key, 'R0UT1NGKEY', 'the configured key wins over one in the body');
});
