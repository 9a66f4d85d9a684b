import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamNames, type CheckResult } from '@agentbus/contracts';
import { republish } from '@agentbus/bus';
import { startWebhookReceiver, waitFor, type ReceivedRequest } from '@agentbus/testkit';
import { startNotifierHarness } from './harness.ts';

/** A PagerDuty routing key has 32 letters and digits (checked when the targets are resolved). */
const ROUTING_KEY = 'R0UT1NGR0UT1NGR0UT1NGR0UT1NGR0UT';

const check: CheckResult = {
  name: 'health',
  url: 'http://127.0.0.1:9/health',
  severity: 'fatal',
  ok: true,
  probes: 3,
  failures: 0,
  maxConsecutiveFailures: 0,
  failureThreshold: 2,
  lastStatus: 200,
  expectedStatus: 200,
  latencyP95Ms: 3,
  latencyThresholdMs: null,
  latenciesMs: [3, 3, 3],
  error: null,
};

type Page = { event_action: string; dedup_key: string; routing_key: string; payload?: { class: string; component?: string; source: string } };

test('each escalation kind pages once with its dedup_key; a healthy service resolves its pages (after a restart, too); a replayed escalation pages no second time', async () => {
  const receiver = await startWebhookReceiver(() => 202);
  const h = await startNotifierHarness({
    notifications: {
      pagerduty: { url: `${receiver.url}/v2/enqueue`, routingKey: { env: 'PD_ROUTING_KEY' }, source: 'agentbus-test' },
      chat: [{ name: 'ops', url: `${receiver.url}/chat/ops`, format: 'slack' }],
    },
    env: { PD_ROUTING_KEY: ROUTING_KEY },
  });
  const pages = () => receiver.requests.filter((r) => r.path === '/v2/enqueue').map((r) => r.json as Page);
  const chats = () => receiver.requests.filter((r) => r.path === '/chat/ops');
  const key = (r: ReceivedRequest) => r.headers['idempotency-key'];
  try {
    const escalations = [
      { dedupKey: 'agentbus.unattributed-failure.d1', kind: 'unattributed-failure', severity: 'error', service: 'api', incident: 'd1' },
      { dedupKey: 'agentbus.rollback-failed.d2', kind: 'rollback-failed', severity: 'critical', service: 'api', incident: 'd2' },
      { dedupKey: 'agentbus.prolonged-unhealthy.web.1', kind: 'prolonged-unhealthy', severity: 'critical', service: 'web', incident: 'w1' },
      { dedupKey: 'agentbus.lease-conflict.api.7', kind: 'lease-conflict', severity: 'warning', service: 'api', incident: 'l7' },
      { dedupKey: 'agentbus.chain-break.releases-api', kind: 'chain-break', severity: 'critical', service: undefined, incident: 'c1' },
    ] as const;
    const raised = [];
    for (const e of escalations) {
      raised.push(
        await h.publisher.publish(
          'escalation.raised',
          { dedupKey: e.dedupKey, kind: e.kind, severity: e.severity, ...(e.service ? { service: e.service } : {}), summary: `${e.kind} for ${e.service ?? 'agentbus'}`, details: { incident: e.incident } },
          { correlationId: e.incident },
        ),
      );
    }
    await waitFor('five pages and three chat messages', () => pages().length === 5 && chats().length === 3);

    assert.deepEqual(
      pages().map((p) => [p.event_action, p.dedup_key, p.routing_key, p.payload?.class, p.payload?.component, p.payload?.source]),
      escalations.map((e) => ['trigger', e.dedupKey, ROUTING_KEY, e.kind, e.service, 'agentbus-test']),
      'one trigger per escalation, with its dedup_key, in order',
    );
    assert.deepEqual(
      receiver.requests.filter((r) => r.path === '/v2/enqueue').map(key),
      escalations.map((e) => `page.trigger.${e.dedupKey}`),
    );
    assert.deepEqual(
      chats().map(key).sort(),
      [raised[2]!, raised[3]!, raised[4]!].map((r) => `chat.ops.${r.id}`).sort(),
      'chat tells the escalations no rollback event has told (prolonged-unhealthy, lease-conflict, chain-break)',
    );

    // The open pages are kept in the versioned state: a restarted notifier still resolves them.
    await waitFor('the events consumer to settle', () => h.idle('notifier'));
    await h.restart();

    await h.publisher.publish('health.recovered', { service: 'api', unhealthySince: new Date(Date.now() - 60_000).toISOString(), recoveredAt: new Date().toISOString(), unhealthyMs: 60_000 });
    const now = new Date().toISOString();
    const passed = await h.publisher.publish(
      'health.passed',
      { deploymentId: 'w2', service: 'web', phase: 'post-deploy', baseline: null, checks: [check], stabilizationMs: 0, startedAt: now, finishedAt: now, probeTimeoutMs: 0, probeWaitMs: 0 },
      { correlationId: 'w2' },
    );
    await waitFor('three resolves', () => pages().filter((p) => p.event_action === 'resolve').length === 3);
    const healthEnded = escalations.filter((e) => e.kind !== 'lease-conflict' && e.kind !== 'chain-break');
    assert.deepEqual(
      pages()
        .filter((p) => p.event_action === 'resolve')
        .map((p) => [p.dedup_key, p.routing_key])
        .sort(),
      healthEnded.map((e) => [e.dedupKey, ROUTING_KEY]).sort(),
      'the pages of api (health.recovered) and web (health.passed) are resolved with their own dedup_keys',
    );
    const resolved = await waitFor('escalation.resolved for each', async () => {
      const events = await h.events('escalation.resolved');
      return events.length === 3 ? events : undefined;
    });
    assert.deepEqual(
      resolved.map((e) => [e.data.dedupKey, e.correlationId, e.source]).sort(),
      healthEnded.map((e) => [e.dedupKey, e.incident, 'notifier']).sort(),
      'each resolution is announced in the incident of its page',
    );
    assert.match(resolved.find((e) => e.data.service === 'web')!.data.summary, /^web is verified healthy: its health checks passed \(post-deploy of deployment w2\)$/);

    // The lease conflict is not ended by health: it stays open until someone resolves it.
    await h.publisher.publish('escalation.resolved', { dedupKey: 'agentbus.lease-conflict.api.7', service: 'api', summary: 'the operator released the stale lease' }, { correlationId: 'l7' });
    await waitFor('the fourth resolve', () => pages().filter((p) => p.event_action === 'resolve').length === 4);
    assert.equal(pages().at(-1)!.dedup_key, 'agentbus.lease-conflict.api.7');

    // Replaying the escalations (agentbus replay --republish) pages nobody again.
    const stored = await h.stored(StreamNames.events, 'events.escalation.raised');
    assert.equal(stored.length, 5);
    for (const message of stored) await republish(h.publisher, message);
    await waitFor('the replayed escalations to be skipped', async () => {
      const metrics = await (await fetch(h.service.metricsUrl)).text();
      return /agentbus_messages_total\{consumer="notifier",type="escalation.raised",outcome="skipped-duplicate",service="notifier"\} 5/.test(metrics);
    });
    await waitFor('both consumers to settle', async () => (await h.idle('notifier')) && (await h.idle('notifier-deliveries')));
    assert.equal(pages().filter((p) => p.event_action === 'trigger').length, 5, 'no second page');
    const triggerTasks = (await h.stored(StreamNames.tasks, 'agents.notifier.tasks.deliver')).filter((m) => m.headers['Nats-Msg-Id']?.startsWith('page.trigger.'));
    assert.equal(triggerTasks.length, 5, 'no second page task either');

    // Chat: one message per update: three escalations, the web deploy, four resolutions.
    assert.deepEqual(
      chats().map(key).sort(),
      [...[raised[2]!, raised[3]!, raised[4]!, passed].map((r) => `chat.ops.${r.id}`), ...resolved.map((e) => `chat.ops.${e.id}`), `chat.ops.${(await h.events('escalation.resolved')).find((e) => e.correlationId === 'l7')!.id}`].sort(),
    );
  } finally {
    await h.close();
    await receiver.close();
  }
});

test('a verification handled before the escalation it ends (another notifier, a redelivery) still pages and resolves it: the order of handling does not matter', async () => {
  const receiver = await startWebhookReceiver(() => 202);
  const h = await startNotifierHarness({ notifications: { pagerduty: { url: `${receiver.url}/v2/enqueue`, routingKey: ROUTING_KEY } } });
  const pages = () => receiver.requests.filter((r) => r.path === '/v2/enqueue').map((r) => r.json as Page);
  try {
    const raisedAt = new Date(Date.now() - 5_000);
    const verifiedAt = new Date(Date.now() - 1_000);
    // The recovery is stored (and handled) first, though the outage's escalation was raised before it.
    await h.publisher.publish('health.recovered', { service: 'api', unhealthySince: raisedAt.toISOString(), recoveredAt: verifiedAt.toISOString(), unhealthyMs: 4_000 }, { correlationId: 'o1', time: verifiedAt });
    await waitFor('the recovery to be handled', () => h.idle('notifier'));
    await h.publisher.publish(
      'escalation.raised',
      { dedupKey: 'agentbus.prolonged-unhealthy.api.1', kind: 'prolonged-unhealthy', severity: 'critical', service: 'api', summary: 'api unhealthy for 5 min', details: {} },
      { correlationId: 'o1', time: raisedAt },
    );
    await waitFor('a trigger and its resolve', () => pages().length === 2);
    assert.deepEqual(pages().map((p) => [p.event_action, p.dedup_key]), [
      ['trigger', 'agentbus.prolonged-unhealthy.api.1'],
      ['resolve', 'agentbus.prolonged-unhealthy.api.1'],
    ]);
    await waitFor('both consumers to settle', async () => (await h.idle('notifier')) && (await h.idle('notifier-deliveries')));
    assert.equal(pages().length, 2, 'nothing more');
    // A later escalation of the same service, raised after the verification, stays open.
    await h.publisher.publish(
      'escalation.raised',
      { dedupKey: 'agentbus.unattributed-failure.d9', kind: 'unattributed-failure', severity: 'error', service: 'api', summary: 'a later failure', details: {} },
      { correlationId: 'd9' },
    );
    await waitFor('its trigger', () => pages().length === 3);
    await waitFor('both consumers to settle', async () => (await h.idle('notifier')) && (await h.idle('notifier-deliveries')));
    assert.equal(pages().at(-1)!.event_action, 'trigger', 'not resolved by the older verification');
  } finally {
    await h.close();
    await receiver.close();
  }
});
