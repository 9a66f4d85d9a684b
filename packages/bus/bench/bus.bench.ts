// Benchmark: the typed bus against the raw nats.js v3 client on the same nats-server, in one run.
// `npm run bench -- --json` prints one JSON line per case: {name, ours_per_s, raw_per_s, ratio}.
// Each side runs ROUNDS times, interleaved (raw, ours, raw, ours…); the median of each is compared.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { jetstream, jetstreamManager, AckPolicy, type JetStreamClient } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { createEnvelope, defineMessage, defineRegistry, taskSubject } from '@agentbus/contracts';
import { connectNats, ConsumerRunner, IdempotencyLedger, Publisher } from '@agentbus/bus';
import { agentbusTopology, applyTopology } from '@agentbus/streams';
import { startNats } from '@agentbus/testkit';

const { values } = parseArgs({ options: { json: { type: 'boolean' }, messages: { type: 'string' }, rounds: { type: 'string' }, window: { type: 'string' } } });
const N = Number(values.messages ?? 20_000);
const ROUNDS = Number(values.rounds ?? 5);
const WINDOW = Number(values.window ?? 256);

const benchTask = defineMessage({
  type: 'bench.work',
  kind: 'task',
  subject: taskSubject('bench', 'work'),
  description: 'benchmark message',
  schema: z.object({ n: z.number().int(), service: z.string(), ref: z.string(), note: z.string() }),
});
const registry = defineRegistry([benchTask]);
const sample = (n: number) => ({ n, service: 'payments-api', ref: 'feature/faster-checkout', note: 'x'.repeat(40) });

async function windowed(count: number, send: (i: number) => Promise<unknown>): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: WINDOW }, async () => {
      while (next < count) await send(next++);
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

async function rawPublish(js: JetStreamClient): Promise<number> {
  return windowed(N, (i) => {
    const envelope = createEnvelope(registry, 'bench.work', sample(i), { source: 'raw' });
    return js.publish(benchTask.subject, JSON.stringify(envelope), { msgID: envelope.id });
  });
}

async function oursPublish(publisher: Publisher<typeof registry>): Promise<number> {
  return windowed(N, (i) => publisher.publish('bench.work', sample(i)));
}

async function freshConsumer(nc: NatsConnection, name: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add('AGENT_TASKS', { durable_name: name, ack_policy: AckPolicy.Explicit, filter_subject: 'agents.bench.tasks.>', max_deliver: 5, ack_wait: nanos(60_000), max_ack_pending: 10_000 });
}

async function rawConsume(nc: NatsConnection, name: string): Promise<number> {
  await freshConsumer(nc, name);
  const consumer = await jetstream(nc).consumers.get('AGENT_TASKS', name);
  const started = performance.now();
  const messages = await consumer.consume({ max_messages: WINDOW });
  let count = 0;
  for await (const m of messages) {
    m.json(); // the raw client also reads the body
    m.ack();
    if (++count === N) break;
  }
  return N / ((performance.now() - started) / 1000);
}

async function oursConsume(nc: NatsConnection, publisher: Publisher<typeof registry>, name: string, ledger: IdempotencyLedger | false): Promise<number> {
  await freshConsumer(nc, name);
  let count = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const runner = new ConsumerRunner({
    nc,
    registry,
    publisher,
    stream: 'AGENT_TASKS',
    consumer: name,
    concurrency: WINDOW,
    prefetch: WINDOW,
    ledger,
    handlers: {
      'bench.work': () => {
        if (++count === N) done();
      },
    },
  });
  const started = performance.now();
  await runner.start();
  await finished;
  const rate = N / ((performance.now() - started) / 1000);
  await runner.stop();
  return rate;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const server = await startNats();
const nc = await connectNats({ servers: server.url, name: 'bench' });
try {
  await applyTopology(nc, agentbusTopology({ replicas: 1 }));
  const js = jetstream(nc);
  const publisher = new Publisher(nc, { registry, source: 'bench' });
  const ledger = await IdempotencyLedger.open(nc);
  await oursPublish(publisher); // warm-up (also leaves N messages for the consume cases)

  const results: Array<{ name: string; ours_per_s: number; raw_per_s: number; ratio: number; note: string }> = [];
  const pubRaw: number[] = [];
  const pubOurs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which side goes first, so neither always runs on a fuller stream or a warmer JIT.
    if (r % 2 === 0) pubRaw.push(await rawPublish(js));
    pubOurs.push(await oursPublish(publisher));
    if (r % 2 === 1) pubRaw.push(await rawPublish(js));
  }
  results.push({ name: 'publish', ours_per_s: median(pubOurs), raw_per_s: median(pubRaw), ratio: median(pubOurs) / median(pubRaw), note: `${N} msgs x ${ROUNDS} rounds, ${WINDOW} in flight, msgID on both; ours adds zod validation, envelope and headers` });

  const conRaw: number[] = [];
  const conOurs: number[] = [];
  const conLedger: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) conRaw.push(await rawConsume(nc, `raw-${r}`));
    conOurs.push(await oursConsume(nc, publisher, `ours-${r}`, false));
    conLedger.push(await oursConsume(nc, publisher, `ledger-${r}`, ledger));
    if (r % 2 === 1) conRaw.push(await rawConsume(nc, `raw-${r}`));
  }
  results.push({ name: 'consume+ack', ours_per_s: median(conOurs), raw_per_s: median(conRaw), ratio: median(conOurs) / median(conRaw), note: 'durable pull consumer; ours validates the envelope and data, runs the handler, acks' });
  results.push({ name: 'consume+ack with idempotency ledger', ours_per_s: median(conLedger), raw_per_s: median(conRaw), ratio: median(conLedger) / median(conRaw), note: 'ours also looks done.<consumer>.<id> up on every delivery (a KV get) and records it with kv.create (a JetStream write) before the ack' });

  for (const result of results) {
    const rounded = { ...result, ours_per_s: Math.round(result.ours_per_s), raw_per_s: Math.round(result.raw_per_s), ratio: Number(result.ratio.toFixed(3)) };
    if (values.json) console.log(JSON.stringify(rounded));
    else console.log(`${rounded.name.padEnd(38)} ours ${String(rounded.ours_per_s).padStart(7)}/s  raw ${String(rounded.raw_per_s).padStart(7)}/s  ratio ${rounded.ratio}   (${rounded.note})`);
  }
} finally {
  await nc.close();
  await server.stop();
}
