// Issue 5 end to end: every incident written up from the bus itself, humans paged only when the
// platform cannot decide, and nothing repeated when the incident's events are replayed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nkeys } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { agentbusRegistry, StreamNames } from '@agentbus/contracts';
import { Publisher, readStream, republish } from '@agentbus/bus';
import { DemoBranches } from '@agentbus/demo';
import type { Postmortem } from '@agentbus/incident';
import { serviceNames } from '@agentbus/platform';
import { openStateBackend, StateStore } from '@agentbus/state';
import { agentbusConsumers, isTimerConsumer } from '@agentbus/streams';
import { startWebhookReceiver, waitFor, type WebhookReceiver } from '@agentbus/testkit';
import { eventOf, startLoop, type Loop } from './harness.ts';

function notificationSections(receiver: WebhookReceiver) {
  return (dir: string) => ({
    notifications: {
      timeoutMs: 2_000,
      pagerduty: { url: `${receiver.url}/pagerduty`, routingKey: 'r0utingkeye2er0utingkeye2er0utin' },
      chat: [{ name: 'ops', url: `${receiver.url}/chat`, format: 'slack' }],
      ticket: { url: `${receiver.url}/issues`, token: 'ticket-token-e2e', labels: ['incident', 'e2e'] },
    },
    escalation: { unhealthyAfterMs: 600 },
    postmortems: { dir: join(dir, 'postmortems') },
  });
}

const at = (receiver: WebhookReceiver, path: string) => receiver.requests.filter((r) => r.path === path && r.status === 200);

async function stateOf(loop: Loop): Promise<StateStore> {
  return new StateStore({ backend: await openStateBackend({ backend: 'nats-kv', nc: loop.nc }), agent: 'e2e-test' });
}

/** Waits until every consumer of the services has acknowledged everything in its stream. */
async function settled(loop: Loop): Promise<void> {
  const jsm = await jetstreamManager(loop.nc);
  await waitFor(
    'every consumer caught up',
    async () => {
      for (const c of agentbusConsumers.filter((consumer) => !isTimerConsumer(consumer))) {
        const info = await jsm.consumers.info(c.stream, c.durable);
        if (info.num_pending > 0 || info.num_ack_pending > 0) return false;
      }
      return true;
    },
    20_000,
  );
}

test('after seed 000, over TLS with every service under its own NATS identity: exactly one post-mortem, its timeline is every event in order, its durations are the events\', its history verifies; one ticket; a replay repeats nothing', async (t) => {
  const receiver = await startWebhookReceiver();
  t.after(() => receiver.close());
  const loop = await startLoop({ sections: notificationSections(receiver), tls: true });
  t.after(() => loop.stop());
  // Each service's connection is its own identity's key, over TLS.
  const connz = (await (await fetch(`http://127.0.0.1:${loop.nats.httpPort}/connz?auth=true`)).json()) as { connections: Array<{ name?: string; authorized_user?: string; tls_version?: string }> };
  const keys = Object.fromEntries(serviceNames.map((name) => [name, nkeys.fromSeed(new TextEncoder().encode(readFileSync(join(loop.natsEnv.NATS_CREDENTIALS_DIR!, `${name}.nk`), 'utf8').trim())).getPublicKey()]));
  for (const name of serviceNames) {
    const connection = connz.connections.find((c) => c.name === name);
    assert.equal(connection?.authorized_user, keys[name], `${name} connected as its own key`);
    assert.match(connection?.tls_version ?? '', /^1\.[23]$/, `${name} connected over TLS`);
  }
  assert.equal(new Set(Object.values(keys)).size, serviceNames.length, 'one key per service');

  const run = await loop.deploy(DemoBranches.broken);
  assert.equal(run.summary.outcome, 'rolled-back');
  const incident = run.taskId;
  await loop.waitForEvent(incident, 'postmortem.written');
  await waitFor('the bug ticket at the receiver', () => at(receiver, '/issues').length === 1, 15_000);
  await settled(loop);

  const store = await stateOf(loop);
  const postmortems = (await store.listDocuments()).filter((path) => path.startsWith('postmortems/'));
  assert.deepEqual(postmortems, [`postmortems/${incident}`], 'exactly one post-mortem');
  const head = await store.get(postmortems[0]!);
  const pm = head.data as unknown as Postmortem;
  assert.equal(pm.outcome, 'rolled-back');

  const events = await loop.events(incident);
  const completed = eventOf(events, 'rollback.completed')!;
  const story = events.filter((e) => e.seq <= completed.seq);
  assert.deepEqual(
    pm.timeline.map((row) => [row.time, row.type, row.actor]),
    story.map((e) => [e.time, e.type, e.source]),
    'the timeline lists every event of the incident up to the outcome, in order, with its own time and actor',
  );
  const ms = (a: { time: string } | undefined, b: { time: string } | undefined) => Date.parse(b!.time) - Date.parse(a!.time);
  const merged = eventOf(events, 'deploy.merged');
  const failed = eventOf(events, 'health.failed');
  assert.equal(pm.impact.timeToDetectMs, ms(merged, failed));
  assert.equal(pm.impact.timeToRollBackMs, ms(failed, completed));
  assert.equal(pm.impact.timeToHealthyMs, ms(merged, completed));
  assert.equal(pm.impact.degradedMs, ms(eventOf(events, 'deploy.completed'), completed));
  assert.equal(pm.change.mergeCommit, run.summary.mergeCommit);
  assert.equal(pm.change.revertCommit, run.summary.revertCommit);
  assert.ok(pm.change.details && pm.change.details.files.length > 0, 'the change as git tells it: files with line counts');
  assert.equal(pm.failingChecks.find((c) => c.severity === 'fatal')?.url, loop.demo.healthUrl);
  assert.equal(pm.baseline?.healthy, true);
  assert.ok(pm.actionItems.some((item) => item.includes(loop.demo.healthUrl)));
  const verified = await store.verify(postmortems[0]!);
  assert.equal(verified.ok, true, 'the post-mortem history verifies');
  const file = join(loop.dir, 'postmortems', `${incident}.md`);
  assert.ok(existsSync(file));
  assert.match(readFileSync(file, 'utf8'), new RegExp(`^# ${pm.title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));

  const ticket = at(receiver, '/issues')[0]!;
  const body = ticket.json as { title: string; body: string; labels: string[] };
  assert.equal(body.title, pm.title);
  assert.deepEqual(body.labels, ['incident', 'e2e']);
  assert.ok(body.body.includes(run.summary.mergeCommit!) && body.body.includes(run.summary.revertCommit!));
  assert.equal(ticket.headers.authorization, 'Bearer ticket-token-e2e');
  assert.equal(at(receiver, '/pagerduty').length, 0, 'a rollback the platform finished pages nobody');
  const chats = at(receiver, '/chat').length;
  assert.equal(chats, 1, 'one chat message for the one update of this incident (rolled back)');

  const versions = (await store.history(postmortems[0]!)).entries.length;
  const publisher = new Publisher(loop.nc, { registry: agentbusRegistry, source: 'e2e-replay' });
  for (const stream of [StreamNames.tasks, StreamNames.events]) {
    for await (const message of readStream(loop.nc, { stream, fromSeq: 1 })) await republish(publisher, message);
  }
  await settled(loop);
  assert.deepEqual((await store.listDocuments()).filter((path) => path.startsWith('postmortems/')), postmortems, 'no second post-mortem');
  assert.equal((await store.history(postmortems[0]!)).entries.length, versions, 'no new version');
  assert.equal(at(receiver, '/issues').length, 1, 'no second ticket');
  assert.equal(at(receiver, '/pagerduty').length, 0, 'no page');
  assert.equal(at(receiver, '/chat').length, chats, 'no second chat message');
});

test('escalations from their real sources page once each with a stable dedup_key, and a recovered service resolves them', async (t) => {
  const receiver = await startWebhookReceiver();
  t.after(() => receiver.close());
  const loop = await startLoop({
    sections: notificationSections(receiver),
    env: { HEALTH_WATCH_INTERVAL_MS: '150' },
    beforeServices: (l) => l.demo.setDependencyDown(true), // /health answers 503 before anything is deployed
  });
  t.after(() => loop.stop());

  // The watch sees the outage; past unhealthyAfterMs it pages (prolonged-unhealthy).
  await waitFor('the prolonged-unhealthy page', () => at(receiver, '/pagerduty').some((r) => (r.json as { dedup_key: string }).dedup_key.startsWith('agentbus.prolonged-unhealthy.primerouter.')), 15_000);
  // A deploy now fails its checks, but the service was unhealthy before it: no revert, a page instead.
  const run = await loop.deploy(DemoBranches.good);
  assert.equal(run.summary.outcome, 'rollback-skipped');
  assert.equal(await loop.originHead(), run.summary.mergeCommit, 'nothing was reverted');
  await waitFor('the unattributed-failure page', () => at(receiver, '/pagerduty').length === 2, 15_000);
  const triggers = at(receiver, '/pagerduty').map((r) => r.json as { event_action: string; dedup_key: string; routing_key: string; payload: { severity: string; component: string } });
  assert.deepEqual(triggers.map((p) => p.event_action), ['trigger', 'trigger']);
  assert.ok(triggers.every((p) => p.routing_key === 'r0utingkeye2er0utingkeye2er0utin' && p.payload.component === 'primerouter'));
  const keys = triggers.map((p) => p.dedup_key);
  assert.equal(keys[1], `agentbus.unattributed-failure.${run.taskId}`);

  // The dependency comes back: the watch sees the service healthy, and both pages are resolved.
  loop.demo.setDependencyDown(false);
  await waitFor('both resolves', () => at(receiver, '/pagerduty').length === 4, 15_000);
  const resolves = at(receiver, '/pagerduty').slice(2).map((r) => r.json as { event_action: string; dedup_key: string });
  assert.deepEqual(resolves.map((p) => p.event_action), ['resolve', 'resolve']);
  assert.deepEqual(new Set(resolves.map((p) => p.dedup_key)), new Set(keys), 'each page resolved with its own key');

  await settled(loop);
  assert.equal(at(receiver, '/pagerduty').length, 4, 'exactly one trigger and one resolve per escalation');
  const store = await stateOf(loop);
  await waitFor('the deploy incident\'s post-mortem shows the page resolved', async () => {
    const pm = (await store.get(`postmortems/${run.taskId}`)).data as unknown as Postmortem;
    return pm.outcome === 'rollback-skipped' && pm.status === 'resolved' && pm.escalations.length === 1 ? pm : undefined;
  });
});
