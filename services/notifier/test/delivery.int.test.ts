import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamNames } from '@agentbus/contracts';
import { listDeadLetters } from '@agentbus/bus';
import { ticketRequest } from '@agentbus/notify';
import { startWebhookReceiver, waitFor } from '@agentbus/testkit';
import { startNotifierHarness, text } from './harness.ts';

const deployment = { deploymentId: 'd-flaky', service: 'api', ref: 'feature/x', branch: 'main', requestedBy: 'coding-agent' };

test('a webhook that answers 500 twice, then 200, gets the message delivered exactly once; an unknown target is dead-lettered at once', async () => {
  const receiver = await startWebhookReceiver((request) => (request.n <= 2 ? 500 : 200));
  const h = await startNotifierHarness({ notifications: { chat: [{ name: 'ops', url: `${receiver.url}/hooks/ops`, format: 'slack' }] } });
  try {
    const failed = await h.publisher.publish('deploy.failed', { ...deployment, stage: 'deploy-command', error: 'deploy command exited with 1', exitCode: 1, pushed: false });
    await waitFor('notification.delivered', async () => (await h.events('notification.delivered')).length > 0);
    await waitFor('the deliveries consumer to settle', () => h.idle('notifier-deliveries'));

    assert.deepEqual(receiver.requests.map((r) => r.status), [500, 500, 200], 'three requests, the last one accepted');
    const taskId = `chat.ops.${failed.id}`;
    assert.deepEqual(receiver.requests.map((r) => r.headers['idempotency-key']), [taskId, taskId, taskId], 'every attempt carries the delivery id');
    assert.deepEqual(receiver.requests[1]!.json, receiver.requests[0]!.json, 'each attempt sends the same body');
    assert.equal((receiver.requests[2]!.json as { text: string }).text, '🚨 api: deploy of feature/x failed at deploy-command');

    const delivered = await h.events('notification.delivered');
    assert.equal(delivered.length, 1);
    assert.deepEqual(delivered[0]!.data, { channel: 'chat', target: 'ops', incidentId: failed.id, deliveryId: taskId, status: 200, attempt: 3 });
    assert.equal(delivered[0]!.correlationId, failed.id, 'the delivery belongs to the incident');
    const retries = (await h.events('task.failed')).filter((e) => e.data.taskId === taskId);
    assert.deepEqual(retries.map((e) => [e.data.attempt, e.data.willRetry, e.data.error.message]), [
      [1, true, 'chat target "ops" answered 500 Internal Server Error'],
      [2, true, 'chat target "ops" answered 500 Internal Server Error'],
    ]);
    assert.deepEqual(await listDeadLetters(h.nc), [], 'nothing in the dead-letter stream');

    await h.publisher.publish('notifier.deliver', { channel: 'chat', target: 'nope', incidentId: 'i1', summary: 'to nowhere', body: { text: 'x' } });
    const [letter] = await waitFor('the dead letter', async () => {
      const letters = await listDeadLetters(h.nc);
      return letters.length === 1 ? letters : undefined;
    });
    assert.equal(letter!.consumer, 'notifier-deliveries');
    assert.equal(letter!.reason, 'handler-failed');
    assert.equal(letter!.deliveries, 1, 'not retried: no attempt can succeed');
    assert.equal(letter!.error, 'no chat target "nope" is configured (configured: chat ops (slack))');
    assert.equal(receiver.requests.length, 3, 'nothing was sent for it');
  } finally {
    await h.close();
    await receiver.close();
  }
});

test('a webhook that never answers ends in the dead-letter stream after max_deliver; URLs, keys and tokens are in no log, event, task or dead letter', async () => {
  const receiver = await startWebhookReceiver(() => 'silent');
  const chatUrl = `${receiver.url}/services/T0/B0/chat-s3cret`;
  const pagerdutyUrl = `${receiver.url}/v2/enqueue/pd-s3cret`;
  const ticketUrl = `${receiver.url}/repos/acme/api/issues-s3cret`;
  const routingKey = 'R0UTINGK3Ys3cretR0UTINGK3Ys3cret';
  const token = 'ghp_t0k3n-s3cret';
  const h = await startNotifierHarness({
    notifications: {
      timeoutMs: 200,
      pagerduty: { url: pagerdutyUrl, routingKey: { env: 'PD_ROUTING_KEY' }, source: 'agentbus-test' },
      chat: [{ name: 'ops', url: { env: 'OPS_WEBHOOK_URL' }, format: 'discord' }],
      ticket: { url: ticketUrl, token: { env: 'TICKET_TOKEN' }, labels: ['incident'] },
    },
    env: { PD_ROUTING_KEY: routingKey, OPS_WEBHOOK_URL: chatUrl, TICKET_TOKEN: token },
  });
  try {
    await h.publisher.publish('escalation.raised', { dedupKey: 'agentbus.chain-break.releases-api', kind: 'chain-break', severity: 'critical', summary: 'releases/api version 4 does not verify', details: { path: 'releases/api', version: 4 } });
    await h.publisher.publish('notifier.deliver', {
      channel: 'ticket',
      target: 'ticket',
      incidentId: 'i-ticket',
      summary: 'bug ticket: api rolled back',
      body: ticketRequest({ incidentId: 'i-ticket', service: 'api', title: 'Deployment rolled back', deploymentSha: null, rolledBackTo: null, failureReason: null, failingEndpoint: null, timeToDetectMs: null, timeToRollBackMs: null, postmortemPath: 'postmortems/i-ticket' }, ['incident']),
    });
    const letters = await waitFor('three dead letters', async () => {
      const found = await listDeadLetters(h.nc);
      return found.length === 3 ? found : undefined;
    });
    await waitFor('the deliveries consumer to settle', () => h.idle('notifier-deliveries'));

    const byTarget = new Map(letters.map((l) => [JSON.parse(new TextDecoder().decode(l.data)).data.target as string, l]));
    assert.deepEqual([...byTarget.keys()].sort(), ['ops', 'pagerduty', 'ticket']);
    for (const [target, letter] of byTarget) {
      assert.equal(letter.consumer, 'notifier-deliveries');
      assert.equal(letter.reason, 'retries-exhausted');
      assert.equal(letter.deliveries, 3);
      assert.equal(letter.error, `${target === 'ops' ? 'chat target "ops"' : target} gave no complete answer within 200 ms`);
    }
    assert.equal(receiver.requests.length, 9, 'three attempts for each of the three messages');
    const pages = receiver.requests.filter((r) => r.path === '/v2/enqueue/pd-s3cret');
    assert.equal(pages.length, 3);
    assert.ok(pages.every((r) => (r.json as { routing_key: string }).routing_key === routingKey), 'the routing key does reach PagerDuty');
    const tickets = receiver.requests.filter((r) => r.path === '/repos/acme/api/issues-s3cret');
    assert.ok(tickets.length === 3 && tickets.every((r) => r.headers.authorization === `Bearer ${token}`), 'the token does reach the ticket receiver');

    const secrets = [chatUrl, '/services/T0/B0/chat-s3cret', pagerdutyUrl, 'pd-s3cret', ticketUrl, 'issues-s3cret', routingKey, token];
    assert.ok(h.logs.some((line) => line.includes('handler failed; retrying')), 'the failing deliveries were logged');
    assert.ok(h.logs.some((line) => line.includes('dead-lettering')));
    for (const line of h.logs) for (const secret of secrets) assert.ok(!line.includes(secret), `a log line shows ${secret}: ${line}`);
    for (const stream of [StreamNames.tasks, StreamNames.events, StreamNames.dlq]) {
      for (const message of await h.stored(stream)) for (const secret of secrets) assert.ok(!text(message).includes(secret), `${stream} ${message.seq} carries ${secret}`);
    }
  } finally {
    await h.close();
    await receiver.close();
  }
});
