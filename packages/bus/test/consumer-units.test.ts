// The consumer runner's small units, each on its own: in-progress acks for long handlers, and
// settlements batched per event-loop turn.
import { afterEach, beforeEach, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { KeepAlive } from '../src/keep-alive.ts';
import { SettleBatch } from '../src/settle-batch.ts';
import { willBeRetried } from '../src/consumer.ts';

const delivery = (name: string) => ({ name, calls: 0, working() { this.calls++; } });

beforeEach(() => mock.timers.enable({ apis: ['setInterval', 'Date'], now: 0 }));
afterEach(() => mock.timers.reset());

test('keep-alive: every ack_wait/3 a delivery tracked that long gets working(); a newer one, an untracked one and a stopped timer get nothing', () => {
  const keepAlive = new KeepAlive<ReturnType<typeof delivery>>();
  const long = delivery('long');
  const fresh = delivery('fresh');
  const done = delivery('done');
  keepAlive.start(30_000); // every 10 s
  keepAlive.track(long, 0);
  keepAlive.track(done, 0);
  keepAlive.untrack(done);
  mock.timers.tick(9_999);
  assert.equal(long.calls, 0, 'nothing before the first tick');
  keepAlive.track(fresh, 9_999);
  mock.timers.tick(1);
  assert.deepEqual([long.calls, fresh.calls, done.calls], [1, 0, 0]);
  mock.timers.tick(10_000);
  assert.deepEqual([long.calls, fresh.calls, done.calls], [2, 1, 0]);
  keepAlive.stop();
  mock.timers.tick(30_000);
  assert.deepEqual([long.calls, fresh.calls], [2, 1], 'stopped: no more in-progress acks');
});

test('keep-alive: a short ack wait still ticks at most every 250 ms', () => {
  const keepAlive = new KeepAlive<ReturnType<typeof delivery>>();
  const m = delivery('m');
  keepAlive.start(300);
  keepAlive.track(m, 0);
  mock.timers.tick(249);
  assert.equal(m.calls, 0);
  mock.timers.tick(1);
  assert.equal(m.calls, 1);
  keepAlive.stop();
});

test('settle batch: what is queued in one turn runs together at its end, in order; flush runs what is left at once', async () => {
  mock.timers.reset(); // real setImmediate
  const batch = new SettleBatch();
  const ran: string[] = [];
  batch.settle(() => ran.push('ack 1'));
  await Promise.resolve().then(() => batch.settle(() => ran.push('nak 2')));
  assert.equal(ran.length, 0, 'nothing before the end of the turn');
  await nextTurn();
  assert.deepEqual(ran, ['ack 1', 'nak 2']);
  batch.settle(() => ran.push('ack 3'));
  batch.flush();
  assert.deepEqual(ran, ['ack 1', 'nak 2', 'ack 3'], 'flush sends what is queued without waiting');
  await nextTurn();
  assert.equal(ran.length, 3, 'and nothing twice');
});

test('willBeRetried: a failure that may pass, before the last delivery; never a final error or the last delivery', async () => {
  const { AgentbusError } = await import('@agentbus/contracts');
  const passing = new Error('a time-out');
  const final = new AgentbusError('invalid-data', 'cannot pass', { retryable: false });
  assert.equal(willBeRetried(passing, { deliveryCount: 1, maxDeliver: 5 }), true);
  assert.equal(willBeRetried(passing, { deliveryCount: 5, maxDeliver: 5 }), false, 'the last delivery');
  assert.equal(willBeRetried(final, { deliveryCount: 1, maxDeliver: 5 }), false, 'an error that cannot pass');
  assert.equal(willBeRetried(passing, { deliveryCount: 100, maxDeliver: Number.POSITIVE_INFINITY }), true, 'no max_deliver');
});
