import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { jetstreamManager } from '@nats-io/jetstream';
import { defineMessage, defineRegistry, scheduleSubject } from '@agentbus/contracts';
import { ConsumerRunner, Publisher, startTimerOnce } from '@agentbus/bus';
import { waitFor } from '@agentbus/testkit';
import { busFixture, testConsumer } from './fixture.ts';

const tick = defineMessage({ type: 'schedule.test-tick', kind: 'timer', subject: scheduleSubject('test-tick'), description: 'a test timer', schema: z.strictObject({ label: z.string() }) });
const timerRegistry = defineRegistry([tick]);

test('a timer started by many is one timer; its handler reschedules it (redeliverIn) and it comes back after the delay, also after a server restart', async (t) => {
  const consumer = testConsumer('ticker', { stream: 'AGENT_SCHEDULE', filterSubject: scheduleSubject('test-tick'), maxDeliver: -1, ackWaitMs: 5_000 });
  const fx = await busFixture([consumer]);
  t.after(() => fx.close());
  const publisher = new Publisher(fx.nc, { registry: timerRegistry, source: 'tester' });
  const results = await Promise.all([1, 2, 3].map((n) => startTimerOnce(publisher, 'schedule.test-tick', { label: `starter ${n}` })));
  assert.deepEqual(results.map((r) => r.started).sort(), [false, false, true], 'one of three starters started it');
  const jsm = await jetstreamManager(fx.nc);
  assert.equal((await jsm.streams.info('AGENT_SCHEDULE')).state.messages, 1);

  const rounds: number[] = [];
  const runner = new ConsumerRunner({
    nc: fx.nc,
    registry: timerRegistry,
    publisher,
    stream: 'AGENT_SCHEDULE',
    consumer: 'ticker',
    ledger: fx.ledger,
    handlers: {
      'schedule.test-tick': (_timer, ctx) => {
        rounds.push(Date.now());
        if (rounds.length < 4) ctx.redeliverIn(300);
      },
    },
  });
  await runner.start();
  t.after(() => runner.stop());
  await waitFor('two rounds', () => rounds.length >= 2, 10_000);
  assert.ok(rounds[1]! - rounds[0]! >= 250, `rescheduled, not redelivered at once (${rounds[1]! - rounds[0]!} ms)`);
  await fx.server.restart();
  await waitFor('the rounds after the restart, until the handler lets it end', () => rounds.length === 4, 30_000);
  await waitFor('the timer acknowledged, and gone', async () => (await jsm.streams.info('AGENT_SCHEDULE')).state.messages === 0, 10_000);
  assert.equal((await startTimerOnce(publisher, 'schedule.test-tick', { label: 'again' })).started, true, 'an ended timer can be started again');
});

test('a handler waiting inside yieldWhile gives its slot back: with one slot, the message that ends its wait still runs', async (t) => {
  const fx = await busFixture([testConsumer('yielding')]);
  t.after(() => fx.close());
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const done: number[] = [];
  const runner = await fx.runner(
    'yielding',
    {
      'worker.work': async (task, ctx) => {
        if (task.data.n === 1) await ctx.yieldWhile(() => released); // waits for what message 2 does
        else release();
        done.push(task.data.n);
      },
    },
    { concurrency: 1 },
  );
  t.after(() => runner.stop());
  await fx.publisher.publish('worker.work', { n: 1 });
  await fx.publisher.publish('worker.work', { n: 2 });
  await waitFor('both messages handled', () => done.length === 2, 10_000);
  assert.deepEqual(done, [2, 1]);
});
