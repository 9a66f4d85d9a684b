import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentbusError, agentbusRegistry, createEnvelope, isMessageValidationError, type AgentbusRegistry } from '@agentbus/contracts';
import type { Handler } from '@agentbus/bus';
import { FakeHandlerContext, runHandler } from '@agentbus/bus/testing';

// The fake handler context keeps the contract the consumer runner gives handlers (consume.int
// shows the runner's side): what it records, how the ledger answers, how a delivery ends.

const trigger = createEnvelope(agentbusRegistry, 'escalation.resolved', { dedupKey: 'agentbus.x.1', summary: 'over' }, { source: 'test', id: 'trigger-1', correlationId: 'incident-1' });

test('publish: validated, caused by the trigger, a repeated id kept as a duplicate only', async () => {
  const ctx = new FakeHandlerContext(agentbusRegistry, trigger);
  const first = await ctx.publish('escalation.resolved', { dedupKey: 'agentbus.y.1', summary: 'done' }, { id: 'out-1' });
  const again = await ctx.publish('escalation.resolved', { dedupKey: 'agentbus.y.1', summary: 'done' }, { id: 'out-1' });
  assert.deepEqual([first.duplicate, again.duplicate], [false, true]);
  assert.deepEqual(
    ctx.published.map((e) => [e.type, e.id, e.correlationId, e.causationId, e.source]),
    [['escalation.resolved', 'out-1', 'incident-1', 'trigger-1', 'test']],
  );
  assert.equal(ctx.duplicates.length, 1);
  await assert.rejects(ctx.publish('escalation.resolved', { dedupKey: '', summary: 'x' } as never), isMessageValidationError);
});

test('step: runs once per name; a pre-filled ledger answers without running (a redelivery)', async () => {
  const ctx = new FakeHandlerContext(agentbusRegistry, trigger, { ledger: { decide: 'recorded' } });
  let runs = 0;
  assert.equal(await ctx.step('decide', () => 'fresh'), 'recorded');
  assert.equal(await ctx.step('act', () => ++runs), 1);
  assert.equal(await ctx.step('act', () => ++runs), 1);
  assert.deepEqual(ctx.steps, [{ name: 'decide', ran: false }, { name: 'act', ran: true }, { name: 'act', ran: false }]);
});

test('runHandler: acked, rescheduled, retried while it may pass, dead-lettered when it cannot or on the last delivery', async () => {
  type H = Handler<AgentbusRegistry, 'escalation.resolved'>;
  const ok: H = (_e, ctx) => ctx.log.info({}, 'fine');
  const later: H = (_e, ctx) => ctx.redeliverIn(1_500.4);
  const transient: H = () => {
    throw new Error('connection reset');
  };
  const permanent: H = () => {
    throw new AgentbusError('invalid-data', 'cannot pass', { retryable: false });
  };
  const rows: Array<[string, H, { deliveryCount?: number }, string]> = [
    ['returns', ok, {}, 'acked'],
    ['redeliverIn', later, {}, 'rescheduled'],
    ['a transient error', transient, {}, 'retry'],
    ['a transient error on the last delivery', transient, { deliveryCount: 5 }, 'dead-lettered'],
    ['an error that cannot pass', permanent, {}, 'dead-lettered'],
  ];
  for (const [name, handler, delivery, outcome] of rows) {
    const run = await runHandler(agentbusRegistry, handler, trigger, { delivery });
    assert.equal(run.outcome, outcome, name);
  }
  const rescheduled = await runHandler(agentbusRegistry, later, trigger);
  assert.equal(rescheduled.ctx.rescheduleMs, 1_500);
  assert.deepEqual((await runHandler(agentbusRegistry, ok, trigger)).ctx.logged, [{ level: 'info', obj: {}, msg: 'fine' }]);
});
