import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstreamManager } from '@nats-io/jetstream';
import { createEnvelope } from '@agentbus/contracts';
import { connectNats, Publisher } from '@agentbus/bus';
import { busFixture, testRegistry } from './fixture.ts';

test('the same envelope published twice inside the window is stored once; the second publish reports a duplicate', async () => {
  const f = await busFixture();
  try {
    const envelope = createEnvelope(testRegistry, 'worker.work', { n: 1 }, { source: 'tester' });
    const first = await f.publisher.publishEnvelope(envelope);
    const second = await f.publisher.publishEnvelope(envelope);
    assert.equal(first.stream, 'AGENT_TASKS');
    assert.equal(first.duplicate, false);
    assert.equal(second.duplicate, true);
    assert.equal(second.seq, first.seq);
    const jsm = await jetstreamManager(f.nc);
    assert.equal((await jsm.streams.info('AGENT_TASKS')).state.messages, 1);
    const other = await f.publisher.publish('worker.work', { n: 1 });
    assert.equal(other.duplicate, false, 'a new envelope with the same data is a new message');
  } finally {
    await f.close();
  }
});

test('unknown types and invalid data are refused before sending, naming the field', async () => {
  const f = await busFixture();
  try {
    await assert.rejects(
      // @ts-expect-error: an unknown type does not compile
      f.publisher.publish('worker.wrk', { n: 1 }),
      (error: Error & { code?: string; hint?: string }) => error.code === 'unknown-type' && /worker\.work/.test(error.hint ?? ''),
    );
    await assert.rejects(
      // @ts-expect-error: n must be a number
      f.publisher.publish('worker.work', { n: 'one' }),
      (error: Error & { code?: string }) => error.code === 'invalid-data' && /data\.n: /.test(error.message),
    );
    const jsm = await jetstreamManager(f.nc);
    assert.equal((await jsm.streams.info('AGENT_TASKS')).state.messages, 0, 'nothing was sent');
  } finally {
    await f.close();
  }
});

/** `{ a: { a: … } }`, `levels` objects deep, built without recursion. */
function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let level = 1; level < levels; level++) value = { a: value };
  return value;
}

test('data nested 5,000 levels deep, or holding values JSON has no form for, is refused before sending with an error naming the limit (not a stack overflow)', async () => {
  const f = await busFixture();
  try {
    const refused = (pattern: RegExp) => (error: Error & { code?: string; hint?: string }) => error.code === 'invalid-data' && pattern.test(error.message);
    await assert.rejects(f.publisher.publish('worker.work', { n: 1, extra: nested(5_000) }), refused(/invalid data for worker\.work: data\.extra\.a\.a.* is nested deeper than 32 levels/));
    await assert.rejects(f.publisher.publish('worker.work', { n: 1, extra: { big: 2n ** 70n } }), refused(/data\.extra\.big is a bigint/));
    await assert.rejects(f.publisher.publish('worker.work', { n: 1, extra: { run: () => 'code' } }), refused(/data\.extra\.run is a function/));
    // An envelope put together by hand is checked too.
    const envelope = { ...createEnvelope(testRegistry, 'worker.work', { n: 1 }, { source: 'tester' }), data: { n: 1, extra: nested(5_000) } };
    await assert.rejects(f.publisher.publishEnvelope(envelope), refused(/nested deeper than 32 levels/));
    const jsm = await jetstreamManager(f.nc);
    assert.equal((await jsm.streams.info('AGENT_TASKS')).state.messages, 0, 'nothing was sent');
    const ok = await f.publisher.publish('worker.work', { n: 2, extra: nested(30) });
    assert.equal(ok.seq, 1, 'nesting within the limit is sent');
  } finally {
    await f.close();
  }
});

test('a payload over the stream max message size is refused before sending', async () => {
  const f = await busFixture();
  try {
    await assert.rejects(
      f.publisher.publish('worker.work', { n: 1, note: 'x'.repeat(1024 * 1024) }),
      (error: Error & { code?: string }) => error.code === 'payload-too-large' && /1048576-byte limit of stream AGENT_TASKS/.test(error.message),
    );
    const jsm = await jetstreamManager(f.nc);
    assert.equal((await jsm.streams.info('AGENT_TASKS')).state.messages, 0);
    const ok = await f.publisher.publish('worker.work', { n: 2, note: 'x'.repeat(1000) });
    assert.equal(ok.seq, 1);
  } finally {
    await f.close();
  }
});

test('publishing before the streams exist says to apply them', async () => {
  const { startNats } = await import('@agentbus/testkit');
  const server = await startNats();
  const nc = await connectNats({ servers: server.url, name: 'no-streams' });
  try {
    const publisher = new Publisher(nc, { registry: testRegistry, source: 'tester', totalTimeoutMs: 2_000 });
    await assert.rejects(publisher.publish('worker.work', { n: 1 }), (error: Error & { code?: string; hint?: string }) => error.code === 'stream-missing' && /streams apply/.test(error.hint ?? ''));
  } finally {
    await nc.close();
    await server.stop();
  }
});

test('an unreachable NATS URL is a clear error, not a hang', async () => {
  const { freePort } = await import('@agentbus/local-nats');
  const port = await freePort();
  await assert.rejects(
    connectNats({ servers: `nats://127.0.0.1:${port}`, name: 'unreachable', timeoutMs: 1_000 }),
    (error: Error & { code?: string; hint?: string }) => error.code === 'nats-unreachable' && error.message.includes(String(port)) && /NATS_URL/.test(error.hint ?? ''),
  );
});
