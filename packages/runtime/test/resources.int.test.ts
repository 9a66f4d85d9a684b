import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { z } from 'zod';
import { defineService, runService, type ResourceContext, type ServiceResource } from '@agentbus/runtime';
import { startNats } from '@agentbus/testkit';

const quiet = () => new Writable({ write: (_chunk, _enc, done) => done() });

/** A resource that records what happens to it in `events`. */
function recorded(name: string, events: string[], options: { fail?: boolean } = {}) {
  return {
    env: z.object({}),
    open: (_env: unknown, ctx: ResourceContext) => {
      assert.equal(ctx.nc.isClosed(), false, 'opened on a live connection');
      events.push(`open ${name} as ${ctx.service}`);
      if (options.fail) throw new Error(`${name} cannot open`);
      ctx.onStop(() => void events.push(`close ${name}`));
      return { name };
    },
  } satisfies ServiceResource;
}

test('resources open once, in declaration order, before start(); they close at stop, in reverse, and when a later one fails to open', async (t) => {
  const server = await startNats();
  t.after(() => server.stop());
  const events: string[] = [];
  const service = await runService(
    defineService({
      name: 'rt-resources',
      description: 'two resources',
      settings: {},
      resources: { first: recorded('first', events), second: recorded('second', events) },
      start: (ctx) => {
        events.push(`start with ${ctx.resources.first.name}, ${ctx.resources.second.name}`);
        return {};
      },
    }),
    { env: { NATS_URL: server.url, LOG_LEVEL: 'silent' }, consumers: [], logDestination: quiet() },
  );
  await service.stop();
  assert.deepEqual(events, ['open first as rt-resources', 'open second as rt-resources', 'start with first, second', 'close second', 'close first']);

  const failing: string[] = [];
  await assert.rejects(
    runService(
      defineService({
        name: 'rt-broken',
        description: 'its second resource cannot open',
        settings: {},
        resources: { first: recorded('first', failing), second: recorded('second', failing, { fail: true }) },
        start: () => (failing.push('start'), {}),
      }),
      { env: { NATS_URL: server.url, LOG_LEVEL: 'silent' }, consumers: [], logDestination: quiet() },
    ),
    /second cannot open/,
  );
  assert.deepEqual(failing, ['open first as rt-broken', 'open second as rt-broken', 'close first']);
});
