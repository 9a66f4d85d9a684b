// Benchmark: how late follow-up checks fire. Ours: `schedule.followup` timers published by the
// Publisher (their own subjects on AGENT_SCHEDULE, one per follow-up), run by the ConsumerRunner
// on the declared `followups` consumer with the idempotency ledger, the handler handing a timer
// back with the time left until it is due (what the health monitor's follow-up handler does
// before it judges). The reference: the raw nats.js client on a stream of its own, naking
// `dueAt − now` (guardrails.md §1, probe pC-F). Same nats-server, rounds interleaved, medians.
// `npm run bench:followups -- --json` prints one JSON line per figure: {name, ours_ms, raw_ms, ratio}.
import { parseArgs } from 'node:util';
import { AckPolicy, DiscardPolicy, jetstream, jetstreamManager, RetentionPolicy } from '@nats-io/jetstream';
import { headers, nanos, type NatsConnection } from '@nats-io/transport-node';
import { agentbusRegistry, type AgentbusRegistry } from '@agentbus/contracts';
import { connectNats, ConsumerRunner, IdempotencyLedger, Publisher } from '@agentbus/bus';
import { agentbusTopology, applyTopology } from '@agentbus/streams';
import { startNats } from '@agentbus/testkit';

const { values } = parseArgs({ options: { json: { type: 'boolean' }, timers: { type: 'string' }, rounds: { type: 'string' }, spreadMs: { type: 'string' } } });
const TIMERS = Number(values.timers ?? 300);
const ROUNDS = Number(values.rounds ?? 3);
const SPREAD_MS = Number(values.spreadMs ?? 6_000);
const FIRST_MS = 2_000;
const MERGE = 'a'.repeat(40);

/** Due times spread evenly over [2 s, 2 s + spread] from now. */
const dueTimes = () => {
  const now = Date.now();
  return Array.from({ length: TIMERS }, (_, i) => now + FIRST_MS + Math.round((i * SPREAD_MS) / TIMERS));
};

async function ours(nc: NatsConnection, publisher: Publisher<AgentbusRegistry>, ledger: IdempotencyLedger, round: number): Promise<number[]> {
  const late: number[] = [];
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const runner = new ConsumerRunner({
    nc,
    registry: agentbusRegistry,
    publisher,
    stream: 'AGENT_SCHEDULE',
    consumer: 'followups',
    concurrency: 16,
    ledger,
    handlers: {
      'schedule.followup': (timer, ctx) => {
        const left = Date.parse(timer.data.dueAt) - Date.now();
        if (left > 0) return ctx.redeliverIn(left);
        late.push(-left);
        if (late.length === TIMERS) done();
      },
    },
  });
  await runner.start();
  await Promise.all(
    dueTimes().map((due, i) =>
      publisher.publish(
        'schedule.followup',
        { deploymentId: `bench-${round}-${i}`, service: 'api', mergeCommit: MERGE, n: 1, of: 1, offsetMs: due - Date.now(), dueAt: new Date(due).toISOString(), baseline: null },
        { id: `bench-${round}-${i}.followup.1` },
      ),
    ),
  );
  await finished;
  await runner.stop();
  return late;
}

async function raw(nc: NatsConnection, round: number): Promise<number[]> {
  const jsm = await jetstreamManager(nc);
  const stream = `RAW_TIMERS_${round}`;
  await jsm.streams.add({ name: stream, subjects: [`raw${round}.>`], retention: RetentionPolicy.Workqueue, discard: DiscardPolicy.New, max_msgs_per_subject: 1, discard_new_per_subject: true });
  await jsm.consumers.add(stream, { durable_name: 'timers', ack_policy: AckPolicy.Explicit, ack_wait: nanos(5_000), max_deliver: -1, max_ack_pending: 20_000 });
  const js = jetstream(nc);
  await Promise.all(
    dueTimes().map((due, i) => {
      const h = headers();
      h.set('Due-At', String(due));
      return js.publish(`raw${round}.${i}`, JSON.stringify({ i }), { headers: h, msgID: `raw-${round}-${i}` });
    }),
  );
  const late: number[] = [];
  const messages = await (await js.consumers.get(stream, 'timers')).consume({ max_messages: 32 });
  for await (const m of messages) {
    const left = Number(m.headers?.get('Due-At')) - Date.now();
    if (left > 0) {
      m.nak(left);
      continue;
    }
    late.push(-left);
    m.ack();
    if (late.length === TIMERS) break;
  }
  await jsm.streams.delete(stream);
  return late;
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const median = (xs: number[]) => quantile(xs, 0.5);

const server = await startNats();
const nc = await connectNats({ servers: server.url, name: 'bench' });
try {
  await applyTopology(nc, agentbusTopology({ replicas: 1 }));
  const publisher = new Publisher(nc, { registry: agentbusRegistry, source: 'bench' });
  const ledger = await IdempotencyLedger.open(nc);
  const figures = { ours: { p50: [] as number[], p99: [] as number[], max: [] as number[] }, raw: { p50: [] as number[], p99: [] as number[], max: [] as number[] } };
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which side goes first.
    const order: Array<'ours' | 'raw'> = round % 2 === 0 ? ['raw', 'ours'] : ['ours', 'raw'];
    for (const side of order) {
      const late = side === 'ours' ? await ours(nc, publisher, ledger, round) : await raw(nc, round);
      figures[side].p50.push(quantile(late, 0.5));
      figures[side].p99.push(quantile(late, 0.99));
      figures[side].max.push(Math.max(...late));
    }
  }
  for (const figure of ['p50', 'p99', 'max'] as const) {
    const oursMs = median(figures.ours[figure]);
    const rawMs = median(figures.raw[figure]);
    const line = {
      name: `follow-up lateness ${figure}`,
      ours_ms: oursMs,
      raw_ms: rawMs,
      ratio: rawMs === 0 ? null : Number((oursMs / rawMs).toFixed(2)),
      note: `${TIMERS} timers due 2–${(FIRST_MS + SPREAD_MS) / 1_000} s out, median of ${ROUNDS} interleaved rounds; goal: fired within 2 000 ms of due`,
    };
    if (values.json) console.log(JSON.stringify(line));
    else console.log(`${line.name.padEnd(26)} ours ${String(line.ours_ms).padStart(5)} ms  raw ${String(line.raw_ms).padStart(5)} ms  ratio ${line.ratio}   (${line.note})`);
  }
} finally {
  await nc.close();
  await server.stop();
}
