// End to end: a message means what its subject says (issue 13). An escalation.raised envelope put
// on another type's subject by the one identity that may publish there (the notifier, on
// events.notification.delivered: forging a page) is acted on by no service: nobody is paged,
// nothing is posted, and each consumer that handles escalations dead-letters it as
// subject-mismatch. One on its own subject under a message id that is not its envelope id is
// dead-lettered as id-mismatch. The real one, on its own subject, pages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream } from '@nats-io/jetstream';
import { connectNats, natsAuthFrom } from '@agentbus/bus';
import { escalation } from '@agentbus/contracts';
import { startWebhookReceiver, waitFor } from '@agentbus/testkit';
import { startLoop } from './harness.ts';

test('a forged escalation.raised on another type\'s subject (by the identity that owns that subject) pages nobody and is dead-lettered as subject-mismatch; one under a message id not its own as id-mismatch; the real one pages', async (t) => {
  const receiver = await startWebhookReceiver();
  t.after(() => receiver.close());
  const loop = await startLoop({
    sections: () => ({ notifications: { timeoutMs: 2_000, pagerduty: { url: `${receiver.url}/pagerduty`, routingKey: 'r0utingkeye2er0utingkeye2er0utin' }, chat: [{ name: 'ops', url: `${receiver.url}/chat`, format: 'slack' }] } }),
  });
  t.after(() => loop.stop());
  const raised = escalation({ kind: 'lease-conflict', severity: 'critical', service: loop.demo.name, summary: 'two agents claim primerouter', details: {}, about: [loop.demo.name, 1] });
  const forged = { id: 'forged-page-1', type: 'escalation.raised', source: 'notifier', time: new Date().toISOString(), correlationId: 'forged-page-1', data: raised.data };
  const notifier = await connectNats({ servers: loop.natsUrl, name: 'notifier', ...natsAuthFrom(loop.natsEnv, 'notifier') });
  t.after(() => notifier.close());
  await jetstream(notifier).publish('events.notification.delivered', JSON.stringify(forged), { msgID: forged.id });

  const letters = await waitFor('the dead letters', async () => {
    const found = (await loop.deadLetters()).filter((d) => d.original.msgId === forged.id);
    return found.length === 2 ? found : undefined;
  });
  assert.deepEqual(letters.map((l) => [l.consumer, l.reason]).sort(), [['notifier', 'subject-mismatch'], ['postmortem', 'subject-mismatch']], 'each consumer that handles escalations refused it');
  assert.match(letters[0]!.error, /^escalation\.raised belongs on events\.escalation\.raised, but this one arrived on events\.notification\.delivered: no handler acts on it$/);
  await loop.waitUntilConsumed();
  assert.deepEqual(receiver.requests.map((r) => r.path), [], 'nobody was paged, nothing was posted');

  // On its own subject, but under a message id that is not its envelope's: the duplicate window and the ledger would disagree.
  const misnamed = { ...forged, id: 'misnamed-page-1', correlationId: 'misnamed-page-1' };
  await jetstream(loop.nc).publish('events.escalation.raised', JSON.stringify(misnamed), { msgID: 'another-id' });
  const misnamedLetters = await waitFor('the id-mismatch dead letters', async () => {
    const found = (await loop.deadLetters()).filter((d) => d.original.msgId === 'another-id');
    return found.length === 2 ? found : undefined;
  });
  assert.deepEqual(misnamedLetters.map((l) => [l.consumer, l.reason]).sort(), [['notifier', 'id-mismatch'], ['postmortem', 'id-mismatch']]);
  await loop.waitUntilConsumed();
  assert.deepEqual(receiver.requests.map((r) => r.path), [], 'still nobody paged');

  // The same escalation on its own subject is what pages.
  await loop.publisher().publish('escalation.raised', raised.data, { id: raised.id });
  await waitFor('the page', () => receiver.requests.some((r) => r.path === '/pagerduty'), 15_000);
});
