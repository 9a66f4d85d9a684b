// A worker in its own process, for crash tests: handles worker.work on consumer `crashwork`,
// performing its side effect (a line appended to EFFECT_FILE) as a ledger step, then holding
// the message for HOLD_MS. Prints "effect <n>" after the side effect and "done <n>" at the end.
import { appendFileSync } from 'node:fs';
import { connectNats, ConsumerRunner, IdempotencyLedger, Publisher } from '@agentbus/bus';
import { testRegistry } from './fixture.ts';

const env = process.env;
const nc = await connectNats({ servers: env.NATS_URL!, name: 'crash-worker' });
const publisher = new Publisher(nc, { registry: testRegistry, source: 'crash-worker' });
const runner = new ConsumerRunner({
  nc,
  registry: testRegistry,
  publisher,
  stream: 'AGENT_TASKS',
  consumer: 'crashwork',
  ledger: await IdempotencyLedger.open(nc),
  handlers: {
    'worker.work': async (envelope, ctx) => {
      await ctx.step('append-effect', () => appendFileSync(env.EFFECT_FILE!, `${envelope.data.n}\n`));
      process.stdout.write(`effect ${envelope.data.n}\n`);
      await new Promise((resolve) => setTimeout(resolve, Number(env.HOLD_MS ?? 0)));
      process.stdout.write(`done ${envelope.data.n}\n`);
    },
  },
});
await runner.start();
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  runner.stop().then(() => nc.drain()).then(() => process.exit(0), (error: unknown) => {
    process.stderr.write(`stop failed: ${String(error)}\n`);
    process.exit(1);
  });
});
