// End to end with two instances of every agentbus service against one NATS (shared durable
// consumers): the seed-000 loop, an outage and a burst of 50 deploys of 5 services, one instance
// of each killed mid-burst. Every task is handled once, every bad deploy reverted once, every
// incident written up once, every escalation paged once, and the watch probes as one instance would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { agentbusRegistry, createEnvelope, parseEnvelope, StreamNames } from '@agentbus/contracts';
import { Publisher, readStream } from '@agentbus/bus';
import { serviceNames } from '@agentbus/platform';
import { DemoBranches, isRunning, serverSource } from '@agentbus/demo';
import { summarizeIncident, type IncidentEvent } from '@agentbus/incident';
import { isChatUpdate } from '@agentbus/notify';
import { openStateBackend, StateStore } from '@agentbus/state';
import { agentbusConsumers, type ConsumerDefinition } from '@agentbus/streams';
import { startWebhookReceiver, waitFor, type WebhookReceiver } from '@agentbus/testkit';
import { eventOf, startLoop, type Loop } from './harness.ts';

const ROUTING_KEY = 'r0utingkeye2er0utingkeye2er0utin';

function notifications(receiver: WebhookReceiver, unhealthyAfterMs = 60_000) {
  return (dir: string) => ({
    notifications: {
      timeoutMs: 2_000,
      pagerduty: { url: `${receiver.url}/pagerduty`, routingKey: ROUTING_KEY },
      chat: [{ name: 'ops', url: `${receiver.url}/chat`, format: 'slack' }],
      ticket: { url: `${receiver.url}/issues`, token: 'ticket-token-e2e', labels: ['incident', 'e2e'] },
    },
    escalation: { unhealthyAfterMs },
    postmortems: { dir: join(dir, 'postmortems') },
  });
}

/** Delivered POSTs to `path`, and the distinct deliveries among them (by idempotency key). */
function deliveries(receiver: WebhookReceiver, path: string): { posts: number; distinct: Set<string> } {
  const posts = receiver.requests.filter((r) => r.path === path && r.status === 200);
  return { posts: posts.length, distinct: new Set(posts.map((r) => String(r.headers['idempotency-key']))) };
}

async function postmortemPaths(loop: Loop): Promise<string[]> {
  const store = new StateStore({ backend: await openStateBackend({ backend: 'nats-kv', nc: loop.nc }), agent: 'e2e-test' });
  return (await store.listDocuments()).filter((path) => path.startsWith('postmortems/'));
}

/** Every event on the bus, parsed, in stream order. */
async function allEvents(loop: Loop): Promise<IncidentEvent[]> {
  const events: IncidentEvent[] = [];
  for await (const stored of readStream(loop.nc, { stream: StreamNames.events, fromSeq: 1 })) {
    try {
      events.push({ ...(parseEnvelope(agentbusRegistry, stored.data) as IncidentEvent), seq: stored.seq });
    } catch {
      // not an agentbus event
    }
  }
  return events;
}

/** How many /health probes the watch sends in `ms`, measured at the service itself. */
async function probesIn(loop: Loop, ms: number): Promise<number> {
  const before = await loop.demo.requestCount('/health');
  await sleep(ms);
  return (await loop.demo.requestCount('/health')) - before;
}

/** With one prober, a watch round (two /health probes) starts at most once per interval. */
const atMostOneProber = (intervalMs: number, windowMs: number) => 2 * (Math.ceil(windowMs / intervalMs) + 1);

test('two instances of every service: seed 000 is reverted once, written up once, told once; the watch probes as one instance would', async (t) => {
  const receiver = await startWebhookReceiver();
  t.after(() => receiver.close());
  const intervalMs = 200;
  const loop = await startLoop({ sections: notifications(receiver), env: { HEALTH_WATCH_INTERVAL_MS: String(intervalMs) } });
  t.after(() => loop.stop());
  for (const name of serviceNames) await loop.spawnService(name);

  const probes = await probesIn(loop, 3_000);
  assert.ok(probes > 0, 'the watch probes');
  assert.ok(probes <= atMostOneProber(intervalMs, 3_000), `${probes} /health probes in 3 s: more than one prober would send (at most ${atMostOneProber(intervalMs, 3_000)})`);

  const run = await loop.deploy(DemoBranches.broken, { timeoutMs: 60_000 });
  assert.equal(run.summary.outcome, 'rolled-back', loop.logTail());
  await loop.waitUntilConsumed();
  const events = await loop.events(run.taskId);
  // Handled once: it completed, or (the watch's probe crashed the broken version before the deploy
  // script saw it listen) its deploy command failed on pushed code, the task failed for good and
  // the rollback came from deploy.failed, as in the burst below.
  const ends = events.filter((e) => (e.type === 'task.completed' || (e.type === 'task.failed' && !e.data.willRetry)) && e.data.taskType === 'deployer.deploy');
  assert.equal(ends.length, 1, `the deploy task was handled once: ${events.map((e) => e.type).join(', ')}`);
  if (ends[0]!.type === 'task.failed') assert.equal(eventOf(events, 'deploy.failed')?.data.stage, 'deploy-command', 'a deploy task fails for good here only when its deploy command failed on pushed code');
  assert.equal(await loop.origin(['rev-list', '--count', `${loop.demo.initialCommit}..${await loop.originHead()}`, '--grep', 'This reverts commit']), '1', 'one revert');
  assert.deepEqual(await postmortemPaths(loop), [`postmortems/${run.taskId}`], 'one post-mortem');
  // One chat message per update: rolled back (and, on the deploy-command path, the failed deploy first).
  const chats = ends[0]!.type === 'task.failed' ? 2 : 1;
  await waitFor('the ticket and the chat messages', () => deliveries(receiver, '/issues').distinct.size === 1 && deliveries(receiver, '/chat').distinct.size === chats, 15_000);
  await loop.waitUntilConsumed();
  assert.deepEqual([deliveries(receiver, '/issues').posts, deliveries(receiver, '/chat').posts, deliveries(receiver, '/pagerduty').posts], [1, chats, 0], 'one ticket, one chat message per update, no page');
});

test('two instances of every service, one service down past unhealthyAfterMs: one escalation, one page, one incident, one post-mortem; its recovery resolves the page once', async (t) => {
  const receiver = await startWebhookReceiver();
  t.after(() => receiver.close());
  const intervalMs = 150;
  const loop = await startLoop({
    sections: notifications(receiver, 600),
    env: { HEALTH_WATCH_INTERVAL_MS: String(intervalMs) },
    beforeServices: (l) => l.demo.setDependencyDown(true),
  });
  t.after(() => loop.stop());
  for (const name of serviceNames) await loop.spawnService(name);

  await waitFor('the prolonged-unhealthy page', () => deliveries(receiver, '/pagerduty').posts >= 1, 20_000);
  const probes = await probesIn(loop, 2_000); // the outage goes on: no second escalation however many watchers
  assert.ok(probes <= atMostOneProber(intervalMs, 2_000), `${probes} /health probes in 2 s`);
  const raised = (await allEvents(loop)).filter((e) => e.type === 'escalation.raised');
  assert.equal(raised.length, 1, 'one escalation');
  assert.equal(deliveries(receiver, '/pagerduty').posts, 1, 'one page');

  loop.demo.setDependencyDown(false);
  await waitFor('the resolve', () => deliveries(receiver, '/pagerduty').posts === 2, 20_000);
  await loop.waitUntilConsumed();
  const events = await allEvents(loop);
  assert.equal(events.filter((e) => e.type === 'health.recovered').length, 1, 'one recovery');
  const incidents = new Set(events.filter((e) => e.type === 'escalation.raised' || e.type === 'health.recovered').map((e) => e.correlationId));
  assert.equal(incidents.size, 1, 'one incident');
  await waitFor('the post-mortem of the outage', async () => (await postmortemPaths(loop)).length === 1);
  const pages = receiver.requests.filter((r) => r.path === '/pagerduty').map((r) => (r.json as { event_action: string }).event_action);
  assert.deepEqual(pages, ['trigger', 'resolve']);
});

/** Short ack waits, so what a killed instance held is redelivered to the other one within seconds. */
const quickRedelivery: ConsumerDefinition[] = agentbusConsumers.map((c) => ({ ...c, ackWaitMs: Math.min(c.ackWaitMs, 10_000) }));

test('a burst of 50 deploys of 5 services, two instances of each, one of each SIGKILLed mid-burst: every deploy ends once, every bad one reverted once, each incident written up and told once', async (t) => {
  const receiver = await startWebhookReceiver();
  t.after(() => receiver.close());
  const names = ['svc-a', 'svc-b', 'svc-c', 'svc-d', 'svc-e'];
  const loop = await startLoop({ services: names, sections: notifications(receiver), consumers: quickRedelivery, env: { HEALTH_WATCH_INTERVAL_MS: '1000' } });
  t.after(() => loop.stop());
  const second = [];
  for (const name of serviceNames) second.push(await loop.spawnService(name));

  // Ten changes per service, two of them break /health: distinct files, so every merge is clean.
  const plan: Array<{ service: string; ref: string; bad: boolean }> = [];
  for (const unit of loop.services) {
    for (let i = 1; i <= 10; i++) {
      const bad = i === 3 || i === 7;
      const ref = `${bad ? 'bad' : 'change'}/${i}`;
      await unit.pushBranch(ref, bad ? { 'server.mjs': `${serverSource(unit.demo.name, 'broken')}// broken change ${i}\n` } : { [`docs/change-${i}.md`]: `# Change ${i} of ${unit.demo.name}\n` });
      plan.push({ service: unit.demo.name, ref, bad });
    }
  }
  // Published at once, interleaved across services; each service's deploys run in this order (its lease).
  const publisher = new Publisher(loop.nc, { registry: agentbusRegistry, source: 'e2e-burst' });
  const tasks = new Map<string, { service: string; ref: string; bad: boolean }>();
  for (let i = 0; i < 10; i++) {
    for (const unit of loop.services) {
      const step = plan.find((p) => p.service === unit.demo.name && p.ref.endsWith(`/${i + 1}`))!;
      const envelope = createEnvelope(agentbusRegistry, 'deployer.deploy', { service: step.service, ref: step.ref, requestedBy: 'e2e-burst' }, { source: 'e2e-burst' });
      await publisher.publishEnvelope(envelope);
      tasks.set(envelope.id, step);
    }
  }

  const outcomes = async () => {
    const events = await allEvents(loop);
    const byIncident = new Map<string, IncidentEvent[]>();
    for (const e of events) if (tasks.has(e.correlationId)) byIncident.set(e.correlationId, [...(byIncident.get(e.correlationId) ?? []), e]);
    return new Map([...tasks.keys()].map((id) => [id, summarizeIncident(id, byIncident.get(id) ?? [])]));
  };
  const ended = async () => [...(await outcomes()).values()].filter((s) => s.outcome !== 'in-progress').length;
  await waitFor('a third of the deploys to end', async () => (await ended()) >= 15, 180_000, 500);
  for (const instance of second) instance.child.kill('SIGKILL');
  await Promise.all(second.map((instance) => instance.exited));
  assert.ok(second.every((instance) => !isRunning(instance.child.pid!)));
  await waitFor('every deploy to end', async () => (await ended()) === 50, 240_000, 1_000);

  const results = await outcomes();
  for (const [id, step] of tasks) {
    assert.equal(results.get(id)?.outcome, step.bad ? 'rolled-back' : 'healthy', `${step.service} ${step.ref}: ${results.get(id)?.outcome}\n${loop.logTail()}`);
  }
  await loop.waitUntilConsumed();
  for (const unit of loop.services) {
    const mine = [...tasks].filter(([, step]) => step.service === unit.demo.name);
    const head = await unit.originHead();
    const merges = await unit.origin(['log', '--merges', '--format=%s', `${unit.demo.initialCommit}..${head}`]);
    for (const [, step] of mine) assert.equal(merges.split('\n').filter((line) => line === `Merge ${step.ref} into main`).length, 1, `${unit.demo.name}: ${step.ref} merged once`);
    const reverts = (await unit.origin(['log', '--format=%s', '--grep', 'This reverts commit', `${unit.demo.initialCommit}..${head}`])).split('\n').filter(Boolean);
    assert.equal(reverts.length, 2, `${unit.demo.name}: each bad change reverted once: ${reverts.join(' | ')}`);
    const manifests = await unit.manifests();
    // A bad change can fail its deploy command too (the watch's probe of /health crashes the new
    // version before the deploy script sees it listen): then it is rolled back from deploy.failed,
    // and the deployer recorded no 'deployed' version for it.
    const history = manifests.map((v) => `${v.number} ${v.agent} ${v.manifest.deploymentId} ${v.manifest.status} ${v.manifest.ref}`).join('\n');
    for (const [id, step] of mine) {
      const versions = manifests.filter((v) => v.manifest.deploymentId === id).map((v) => v.manifest.status);
      const expected = step.bad ? [['deployed', 'rolled-back'], ['rolled-back']] : [['deployed']];
      assert.ok(expected.some((e) => e.join() === versions.join()), `${unit.demo.name} ${step.ref}: one release version per deploy and per rollback, got ${versions.join(', ')}:\n${history}`);
    }
    assert.equal((await fetch(unit.demo.healthUrl)).status, 200, `${unit.demo.name} is healthy at the end`);
  }
  const badIds = [...tasks].filter(([, step]) => step.bad).map(([id]) => id);
  await waitFor('a post-mortem per rolled-back deploy', async () => (await postmortemPaths(loop)).length === badIds.length, 60_000, 500);
  assert.deepEqual((await postmortemPaths(loop)).sort(), badIds.map((id) => `postmortems/${id}`).sort(), 'one post-mortem per incident, none for a healthy deploy');
  // One chat message per update of an incident: health.passed, rollback.completed (and deploy.failed, for a bad change whose deploy command failed).
  const updates = (await allEvents(loop)).filter((e) => tasks.has(e.correlationId) && isChatUpdate(e)).length;
  assert.ok(updates >= 50, `${updates} updates`);
  await waitFor('every chat message and ticket', () => deliveries(receiver, '/chat').distinct.size === updates && deliveries(receiver, '/issues').distinct.size === badIds.length, 60_000, 500);
  await loop.waitUntilConsumed();
  assert.equal(deliveries(receiver, '/chat').distinct.size, updates, 'one chat message per update');
  assert.equal(deliveries(receiver, '/issues').distinct.size, badIds.length, 'one ticket per incident');
  assert.equal(deliveries(receiver, '/pagerduty').posts, 0, 'nothing to page');
  // The only dead letters: the deploy tasks of bad changes whose deploy command failed (a failed deploy is dead-lettered, then rolled back).
  const failedDeploys = new Set((await allEvents(loop)).filter((e) => e.type === 'deploy.failed' && e.data.stage === 'deploy-command' && tasks.get(e.correlationId)?.bad).map((e) => e.correlationId));
  const dead = (await loop.deadLetters()).filter((d) => !(d.consumer === 'deployer' && d.reason === 'handler-failed' && failedDeploys.has(d.correlationId ?? '')));
  assert.deepEqual(dead.map((d) => `${d.consumer} ${d.reason} ${d.type} ${d.error}`), [], 'nothing else dead-lettered');
  // A notifier killed between a POST and its record posts it again (the receiver gets the same idempotency key).
  const chat = deliveries(receiver, '/chat');
  assert.ok(chat.posts - chat.distinct.size <= 1, `${chat.posts - chat.distinct.size} chat messages posted again`);
});
