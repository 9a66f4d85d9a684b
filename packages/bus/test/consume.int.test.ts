import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { AgentbusError } from '@agentbus/contracts';
import { Headers, listDeadLetters, readStream, republish, redriveDeadLetter, getDeadLetter } from '@agentbus/bus';
import { agentbusStreams } from '@agentbus/streams';
import { waitFor } from '@agentbus/testkit';
import { busFixture, testConsumer } from './fixture.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a poison message is delivered exactly max_deliver times and dead-lettered once with its reason', async () => {
  const f = await busFixture([testConsumer('poison', { maxDeliver: 4 })]);
  try {
    const attempts: number[] = [];
    await f.runner('poison', {
      'worker.work': (_envelope, ctx) => {
        attempts.push(ctx.delivery.deliveryCount);
        throw new Error('boom: the handler always fails');
      },
    });
    const sent = await f.publisher.publish('worker.work', { n: 7 });
    const letters = await waitFor('the dead letter', async () => {
      const all = await listDeadLetters(f.nc);
      return all.length > 0 ? all : undefined;
    });
    await sleep(500); // anything extra would show up now
    assert.deepEqual(attempts, [1, 2, 3, 4]);
    const after = await listDeadLetters(f.nc);
    assert.equal(after.length, 1, 'exactly one dead letter');
    const letter = letters[0]!;
    assert.equal(letter.reason, 'retries-exhausted');
    assert.match(letter.error, /boom: the handler always fails/);
    assert.equal(letter.deliveries, 4);
    assert.equal(letter.consumer, 'poison');
    assert.equal(letter.original.stream, 'AGENT_TASKS');
    assert.equal(letter.original.seq, sent.seq);
    assert.equal(letter.original.subject, 'agents.worker.tasks.work');
    assert.equal(letter.original.msgId, sent.id);
    assert.equal(letter.type, 'worker.work');
    assert.equal(JSON.parse(new TextDecoder().decode(letter.data)).data.n, 7, 'the original body is kept');
    const info = await (await jetstreamManager(f.nc)).consumers.info('AGENT_TASKS', 'poison');
    assert.equal(info.num_ack_pending, 0);
    assert.equal(info.num_pending, 0);
  } finally {
    await f.close();
  }
});

test('a non-retryable handler error is dead-lettered after one delivery', async () => {
  const f = await busFixture([testConsumer('permanent')]);
  try {
    let calls = 0;
    await f.runner('permanent', {
      'worker.work': () => {
        calls++;
        throw new AgentbusError('invalid-data', 'no such service', { retryable: false });
      },
    });
    await f.publisher.publish('worker.work', { n: 1 });
    const [letter] = await waitFor('dead letter', async () => ((await listDeadLetters(f.nc)).length ? listDeadLetters(f.nc) : undefined));
    assert.equal(calls, 1);
    assert.equal(letter!.reason, 'handler-failed');
    assert.equal(letter!.deliveries, 1);
  } finally {
    await f.close();
  }
});

test('schema-invalid and malformed messages on the wire are dead-lettered after one delivery; the consumer goes on', async () => {
  const f = await busFixture([testConsumer('strict')]);
  try {
    const handled: number[] = [];
    await f.runner('strict', { 'worker.work': (e) => void handled.push(e.data.n) });
    const js = jetstream(f.nc);
    const bad = { id: 'bad-1', type: 'worker.work', source: 'raw', time: new Date().toISOString(), correlationId: 'c1', data: { n: 'not a number' } };
    await js.publish('agents.worker.tasks.work', JSON.stringify(bad), { msgID: 'bad-1' });
    await js.publish('agents.worker.tasks.work', '{"this is": not json', { msgID: 'bad-2' });
    await js.publish('agents.worker.tasks.work', JSON.stringify({ ...bad, id: 'bad-3', type: 'worker.unknown', data: {} }), { msgID: 'bad-3' });
    await f.publisher.publish('worker.work', { n: 42 });
    await waitFor('three dead letters and one handled message', async () => (await listDeadLetters(f.nc)).length === 3 && handled.length === 1);
    const letters = await listDeadLetters(f.nc);
    assert.deepEqual(letters.map((l) => l.reason), ['invalid-data', 'malformed-json', 'unknown-type']);
    assert.match(letters[0]!.error, /data\.n: /);
    assert.ok(letters.every((l) => l.deliveries === 1));
    assert.equal(new TextDecoder().decode(letters[1]!.data), '{"this is": not json', 'malformed bytes are kept as they were');
    assert.deepEqual(handled, [42]);
  } finally {
    await f.close();
  }
});

test('a message from a foreign client with data nested 5,000 levels deep is dead-lettered at once as invalid-data naming the limit; the consumer goes on', async () => {
  const f = await busFixture([testConsumer('deep')]);
  try {
    const handled: number[] = [];
    await f.runner('deep', { 'worker.work': (e) => void handled.push(e.data.n) });
    const deep = `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`;
    const body = `{"id":"deep-1","type":"worker.work","source":"foreign","time":"${new Date().toISOString()}","correlationId":"deep-1","data":{"n":1,"extra":${deep}}}`;
    await jetstream(f.nc).publish('agents.worker.tasks.work', body, { msgID: 'deep-1' });
    await f.publisher.publish('worker.work', { n: 2 });
    await waitFor('the dead letter and the next message handled', async () => (await listDeadLetters(f.nc)).length === 1 && handled.length === 1);
    const [letter] = await listDeadLetters(f.nc);
    assert.equal(letter!.reason, 'invalid-data');
    assert.equal(letter!.deliveries, 1);
    assert.match(letter!.error, /data\.extra\.a\.a.* is nested deeper than 32 levels/);
    assert.equal(new TextDecoder().decode(letter!.data), body, 'the original bytes are kept');
    assert.deepEqual(handled, [2]);
  } finally {
    await f.close();
  }
});

test('on the events stream, types without a handler on this consumer are acknowledged, counted as skipped-unhandled, and not dead-lettered', async () => {
  const f = await busFixture([testConsumer('events-watch', { stream: 'AGENT_EVENTS', filterSubject: 'events.>' })]);
  try {
    const seen: string[] = [];
    const outcomes: string[] = [];
    await f.runner('events-watch', { 'work.done': (e) => void seen.push(e.type) }, { hooks: { onOutcome: (outcome, type) => void outcomes.push(`${type} ${outcome}`) } });
    await f.publisher.publish('work.noted', { text: 'nobody here handles this' });
    await f.publisher.publish('work.done', { n: 1 });
    await waitFor('handled', () => seen.length === 1);
    await waitFor('all acknowledged', async () => {
      const info = await (await jetstreamManager(f.nc)).consumers.info('AGENT_EVENTS', 'events-watch');
      return info.ack_floor.stream_seq === 2 && info.num_ack_pending === 0;
    });
    assert.deepEqual(seen, ['work.done']);
    assert.deepEqual(outcomes, ['work.noted skipped-unhandled', 'work.done acked'], 'the skipped one is counted (the runtime turns outcomes into agentbus_messages_total)');
    assert.equal((await listDeadLetters(f.nc)).length, 0);
  } finally {
    await f.close();
  }
});

test('a type a handler takes, arrived on a subject that is not its own, is dead-lettered (subject-mismatch) and acted on by no handler', async () => {
  const f = await busFixture([testConsumer('tasks-subjects')]);
  try {
    const handled: number[] = [];
    await f.runner('tasks-subjects', { 'worker.work': (e) => void handled.push(e.data.n), 'worker.other': (e) => void handled.push(e.data.n) });
    // worker.work's envelope on worker.other's subject: whoever may publish there may not publish worker.work.
    const forged = { id: 'forged-1', type: 'worker.work', source: 'rogue', time: new Date().toISOString(), correlationId: 'c1', data: { n: 1 } };
    await jetstream(f.nc).publish('agents.worker.tasks.other', JSON.stringify(forged), { msgID: 'forged-1' });
    await f.publisher.publish('worker.work', { n: 2 });
    await waitFor('the dead letter and the handled message', async () => (await listDeadLetters(f.nc)).length === 1 && handled.length === 1);
    const [letter] = await listDeadLetters(f.nc);
    assert.deepEqual([letter!.reason, letter!.original.subject, letter!.consumer], ['subject-mismatch', 'agents.worker.tasks.other', 'tasks-subjects']);
    assert.match(letter!.error, /^worker\.work belongs on agents\.worker\.tasks\.work, but this one arrived on agents\.worker\.tasks\.other: no handler acts on it$/);
    assert.deepEqual(handled, [2], 'the forged one was never handled');
  } finally {
    await f.close();
  }
});

test('one envelope id has its effect once: published again under other message ids (replay, redrive), again after the duplicate window, and under a message id that does not name it (id-mismatch)', async () => {
  // A duplicate window of 1 s on the tasks stream, so "after the window" takes a second.
  const tasks = agentbusStreams.find((stream) => stream.name === 'AGENT_TASKS')!;
  const f = await busFixture([testConsumer('tasks-once')], { streams: [{ ...tasks, duplicateWindowMs: 1_000 }] });
  try {
    const effects: string[] = [];
    const outcomes: string[] = [];
    await f.runner('tasks-once', { 'worker.work': (e) => void effects.push(`${e.id} ${e.data.n}`) }, { hooks: { onOutcome: (outcome) => void outcomes.push(outcome) } });
    const sent = await f.publisher.publish('worker.work', { n: 1 }, { id: 'once-1' });
    await waitFor('the first effect', () => effects.length === 1);
    const js = jetstream(f.nc);
    const body = JSON.stringify({ id: 'once-1', type: 'worker.work', source: 'tester', time: new Date().toISOString(), correlationId: sent.id, data: { n: 1 } });
    const resend = (msgId: string, header: string, from: string) => {
      const h = headers();
      h.set(header, from);
      return js.publish('agents.worker.tasks.work', body, { msgID: msgId, headers: h });
    };
    // Two re-sends under two more message ids, each of them stored (none is a duplicate to JetStream).
    assert.equal((await resend('once-1/replay.AGENT_TASKS.1', Headers.replayedFrom, 'AGENT_TASKS/1')).duplicate, false);
    assert.equal((await resend('once-1/redrive.AGENT_DLQ.9', Headers.redrivenFrom, 'AGENT_DLQ/9')).duplicate, false);
    await sleep(1_300); // past the duplicate window: the same id is stored again, as a first delivery
    assert.equal((await f.publisher.publish('worker.work', { n: 1 }, { id: 'once-1' })).duplicate, false);
    // Ids that do not name the envelope: another id, another id without a resend header, none at all.
    await js.publish('agents.worker.tasks.work', body, { msgID: 'not-once-1' });
    await js.publish('agents.worker.tasks.work', body, { msgID: 'once-1/replay.AGENT_TASKS.1' });
    await js.publish('agents.worker.tasks.work', body);
    await waitFor('every delivery ended', () => outcomes.length === 7);
    assert.deepEqual(effects, ['once-1 1'], 'one effect for one envelope id');
    assert.deepEqual(outcomes, ['acked', 'skipped-duplicate', 'skipped-duplicate', 'skipped-duplicate', 'dead-lettered', 'dead-lettered', 'dead-lettered']);
    const letters = await listDeadLetters(f.nc);
    assert.deepEqual(letters.map((l) => [l.reason, l.original.msgId]), [
      ['id-mismatch', 'not-once-1'],
      ['id-mismatch', 'once-1/replay.AGENT_TASKS.1'],
      ['id-mismatch', undefined],
    ]);
    assert.match(letters[0]!.error, /^worker\.work once-1 arrived with Nats-Msg-Id "not-once-1", which is not its envelope id: no handler acts on it$/);
    assert.match(letters[2]!.error, /arrived with Nats-Msg-Id \(none\)/);
  } finally {
    await f.close();
  }
});

test('on a task subject, a type no handler of this consumer takes is dead-lettered at once (unhandled-type), naming the type and the consumer; the consumer goes on', async () => {
  const f = await busFixture([testConsumer('tasks-strict')]);
  try {
    const handled: number[] = [];
    const outcomes: string[] = [];
    await f.runner('tasks-strict', { 'worker.work': (e) => void handled.push(e.data.n) }, { hooks: { onOutcome: (outcome, type) => void outcomes.push(`${type} ${outcome}`) } });
    const stray = await f.publisher.publish('worker.other', { n: 1 });
    // A known type on a subject of this consumer that is not its own (a foreign client can do this).
    const js = jetstream(f.nc);
    const misrouted = { id: 'misrouted-1', type: 'work.done', source: 'raw', time: new Date().toISOString(), correlationId: 'c1', data: { n: 2 } };
    await js.publish('agents.worker.tasks.work', JSON.stringify(misrouted), { msgID: 'misrouted-1' });
    await f.publisher.publish('worker.work', { n: 3 });
    await waitFor('two dead letters and one handled message', async () => (await listDeadLetters(f.nc)).length === 2 && handled.length === 1);
    const letters = await listDeadLetters(f.nc);
    assert.deepEqual(letters.map((l) => [l.reason, JSON.parse(new TextDecoder().decode(l.data)).type, l.deliveries, l.consumer]), [
      ['unhandled-type', 'worker.other', 1, 'tasks-strict'],
      ['unhandled-type', 'work.done', 1, 'tasks-strict'],
    ]);
    assert.equal(letters[0]!.original.msgId, stray.id);
    assert.match(letters[0]!.error, /consumer tasks-strict has no handler for worker\.other \(it handles worker\.work\)/);
    assert.match(letters[1]!.error, /no handler for work\.done .* on agents\.worker\.tasks\.work/);
    assert.deepEqual(handled, [3]);
    assert.deepEqual(outcomes, ['worker.other dead-lettered', 'work.done dead-lettered', 'worker.work acked']);
    const info = await (await jetstreamManager(f.nc)).consumers.info('AGENT_TASKS', 'tasks-strict');
    assert.equal(info.num_ack_pending, 0);
    assert.equal(info.num_pending, 0);
  } finally {
    await f.close();
  }
});

test('long handlers send in-progress acks and are not redelivered while they work', async () => {
  const f = await busFixture([testConsumer('slow', { ackWaitMs: 1_000 })]);
  try {
    let calls = 0;
    await f.runner('slow', {
      'worker.work': async () => {
        calls++;
        await sleep(3_500);
      },
    });
    await f.publisher.publish('worker.work', { n: 1 });
    await waitFor('handler done', async () => (await (await jetstreamManager(f.nc)).consumers.info('AGENT_TASKS', 'slow')).ack_floor.stream_seq === 1, 10_000);
    assert.equal(calls, 1, 'a 3.5 s handler with a 1 s ack_wait ran once');
  } finally {
    await f.close();
  }
});

test('replay --republish of handled messages repeats no side effect; a new consumer handles them', async () => {
  const f = await busFixture([testConsumer('first'), testConsumer('late')]);
  try {
    const effects: number[] = [];
    await f.runner('first', { 'worker.work': async (e, ctx) => void (await ctx.step('effect', () => effects.push(e.data.n))) });
    for (const n of [1, 2, 3]) await f.publisher.publish('worker.work', { n });
    await waitFor('three handled', () => effects.length === 3);

    const stored = [];
    for await (const m of readStream(f.nc, { stream: 'AGENT_TASKS', fromSeq: 1 })) stored.push(m);
    for (const m of stored) {
      const result = await republish(f.publisher, m);
      assert.equal(result.duplicate, false);
    }
    const again = await republish(f.publisher, stored[0]!);
    assert.equal(again.duplicate, true, 'the same replay twice inside the window is sent once');
    const resent = [];
    for await (const m of readStream(f.nc, { stream: 'AGENT_TASKS', fromSeq: 4 })) resent.push(m);
    assert.deepEqual(resent.map((m) => m.headers[Headers.replayedFrom]), ['AGENT_TASKS/1', 'AGENT_TASKS/2', 'AGENT_TASKS/3']);

    await waitFor('replays acknowledged', async () => (await (await jetstreamManager(f.nc)).consumers.info('AGENT_TASKS', 'first')).ack_floor.stream_seq === 6);
    assert.deepEqual(effects, [1, 2, 3], 'no side effect repeated');

    const lateEffects: number[] = [];
    await f.runner('late', { 'worker.work': async (e, ctx) => void (await ctx.step('effect', () => lateEffects.push(e.data.n))) });
    await waitFor('late consumer caught up', async () => (await (await jetstreamManager(f.nc)).consumers.info('AGENT_TASKS', 'late')).ack_floor.stream_seq === 6);
    assert.deepEqual(lateEffects, [1, 2, 3], 'a consumer that never saw them handles each message once');
  } finally {
    await f.close();
  }
});

test('dlq redrive puts the message back on its subject, it is handled, and the dead letter is removed', async () => {
  const f = await busFixture([testConsumer('flaky', { maxDeliver: 2 })]);
  try {
    let healthy = false;
    const handled: number[] = [];
    await f.runner('flaky', {
      'worker.work': (e) => {
        if (!healthy) throw new Error('downstream unavailable');
        handled.push(e.data.n);
      },
    });
    await f.publisher.publish('worker.work', { n: 5 });
    const [letter] = await waitFor('dead letter', async () => ((await listDeadLetters(f.nc)).length ? listDeadLetters(f.nc) : undefined));
    healthy = true;
    const shown = await getDeadLetter(f.nc, letter!.seq);
    assert.equal(shown.error, 'downstream unavailable');
    const result = await redriveDeadLetter(f.nc, f.publisher, shown);
    assert.equal(result.subject, 'agents.worker.tasks.work');
    await waitFor('handled after redrive', () => handled.length === 1);
    assert.deepEqual(handled, [5]);
    assert.equal((await listDeadLetters(f.nc)).length, 0);
  } finally {
    await f.close();
  }
});

test('the max-deliveries advisory dead-letters a message whose worker never finished its last delivery', async () => {
  const f = await busFixture([testConsumer('crashy', { maxDeliver: 2, ackWaitMs: 1_000 })]);
  try {
    const sent = await f.publisher.publish('worker.work', { n: 9 });
    // A worker that takes the message and dies (never acks), twice: the raw client stands in for it.
    const c = await jetstream(f.nc).consumers.get('AGENT_TASKS', 'crashy');
    for (let i = 0; i < 2; i++) {
      const m = await c.next({ expires: 3_000 });
      assert.ok(m, `delivery ${i + 1}`);
    }
    // Now a healthy runner pulls; the server emits the advisory on that pull.
    const handled: number[] = [];
    await f.runner('crashy', { 'worker.work': (e) => void handled.push(e.data.n) });
    const [letter] = await waitFor('dead letter from the advisory', async () => ((await listDeadLetters(f.nc)).length ? listDeadLetters(f.nc) : undefined), 10_000);
    assert.equal(letter!.reason, 'max-deliveries');
    assert.equal(letter!.original.seq, sent.seq);
    assert.equal(letter!.deliveries, 2);
    assert.deepEqual(handled, [], 'the exhausted message is not delivered again');
  } finally {
    await f.close();
  }
});

test('stop() drains: the running handler finishes and is acknowledged; nothing is lost', async () => {
  const f = await busFixture([testConsumer('drain')]);
  try {
    const done: number[] = [];
    let started!: () => void;
    const inHandler = new Promise<void>((resolve) => (started = resolve));
    const runner = await f.runner('drain', {
      'worker.work': async (e) => {
        started();
        await sleep(500);
        done.push(e.data.n);
      },
    });
    await f.publisher.publish('worker.work', { n: 1 });
    await inHandler;
    await runner.stop();
    assert.deepEqual(done, [1]);
    const info = await (await jetstreamManager(f.nc)).consumers.info('AGENT_TASKS', 'drain');
    assert.equal(info.ack_floor.stream_seq, 1);
  } finally {
    await f.close();
  }
});

test('dead letters keep the original headers', async () => {
  const f = await busFixture([testConsumer('headers', { maxDeliver: 1 })]);
  try {
    await f.runner('headers', { 'worker.work': () => Promise.reject(new Error('nope')) });
    const h = headers();
    h.set('Traceparent', '00-abc-def-01');
    const js = jetstream(f.nc);
    const body = JSON.stringify({ id: 'h-1', type: 'worker.work', source: 'raw', time: new Date().toISOString(), correlationId: 'c9', data: { n: 1 } });
    await js.publish('agents.worker.tasks.work', body, { msgID: 'h-1', headers: h });
    const [letter] = await waitFor('dead letter', async () => ((await listDeadLetters(f.nc)).length ? listDeadLetters(f.nc) : undefined));
    assert.equal(letter!.headers['Traceparent'], '00-abc-def-01');
    assert.equal(letter!.original.msgId, 'h-1');
  } finally {
    await f.close();
  }
});

test('a message delivered again while this runner still handles it (its wait ran out in a stall) is left to the running handler: handled once', async () => {
  const f = await busFixture([testConsumer('stalled', { ackWaitMs: 1_000, ackBackoffMs: undefined })]);
  try {
    let runs = 0;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const runner = await f.runner('stalled', {
      'worker.work': async () => {
        runs++;
        const until = Date.now() + 1_800;
        while (Date.now() < until) {
          // the event loop stalls: no in-progress ack goes out, the server's wait runs out
        }
        await released;
      },
    }, { concurrency: 2 });
    await f.publisher.publish('worker.work', { n: 1 });
    await waitFor('the handler to run', () => runs === 1);
    const jsm = await jetstreamManager(f.nc);
    await waitFor('the server to deliver it again', async () => (await jsm.consumers.info('AGENT_TASKS', 'stalled')).delivered.consumer_seq >= 2, 10_000, 50);
    await new Promise((resolve) => setTimeout(resolve, 300));
    release();
    await waitFor('acknowledged', async () => (await jsm.consumers.info('AGENT_TASKS', 'stalled')).num_ack_pending === 0, 10_000, 50);
    assert.equal(runs, 1, 'the redelivery did not start a second handler beside the first');
    await runner.stop();
  } finally {
    await f.close();
  }
});
