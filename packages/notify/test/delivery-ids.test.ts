import { test } from 'node:test';
import assert from 'node:assert/strict';
import { envelopeSchema } from '@agentbus/contracts';
import { deliveryIds, idPart } from '@agentbus/notify';

const validId = (id: string) => envelopeSchema.shape.id.safeParse(id).success;

test('delivery ids: deterministic, valid envelope ids, a dedupKey that does not fit is hashed', () => {
  assert.equal(deliveryIds.pageTrigger('agentbus.rollback-failed.0196a3c2'), 'page.trigger.agentbus.rollback-failed.0196a3c2');
  assert.equal(deliveryIds.pageResolve('agentbus.rollback-failed.0196a3c2'), 'page.resolve.agentbus.rollback-failed.0196a3c2');
  assert.equal(deliveryIds.chat('ops', '0196a3c2.rollback.completed'), 'chat.ops.0196a3c2.rollback.completed');
  assert.equal(deliveryIds.ticket('0196a3c2'), 'ticket.0196a3c2');
  assert.equal(deliveryIds.escalationResolved('k1'), 'escalation.resolved.k1');
  assert.equal(deliveryIds.delivered('page.trigger.k1'), 'page.trigger.k1.delivered');

  const odd = ['state verify: releases/api v4', 'x'.repeat(150), '.leading-dot', 'ünïcode'];
  for (const key of odd) {
    const part = idPart(key);
    assert.match(part, /^h-[0-9a-f]{40}$/, key);
    assert.equal(idPart(key), part, 'the same key gives the same id');
  }
  assert.notEqual(idPart('a b'), idPart('a  b'));
  const longest = deliveryIds.delivered(deliveryIds.chat('o'.repeat(63), 'e'.repeat(200)));
  for (const id of [longest, deliveryIds.pageTrigger('state verify: releases/api'), deliveryIds.chat('ops', 'x'.repeat(200))]) {
    assert.ok(validId(id), `${id} is a valid envelope id`);
    assert.ok(id.length <= 200);
  }
});
