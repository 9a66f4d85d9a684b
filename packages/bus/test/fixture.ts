import { z } from 'zod';
import type { NatsConnection } from '@nats-io/transport-node';
import { defineMessage, defineRegistry, taskSubject, eventSubject } from '@agentbus/contracts';
import { connectNats, IdempotencyLedger, Publisher, ConsumerRunner, type ConsumerHooks, type HandlerMap } from '@agentbus/bus';
import { agentbusTopology, applyTopology, unhandledTypePolicy, type ConsumerDefinition, type StreamDefinition } from '@agentbus/streams';
import { startNats, type NatsServer } from '@agentbus/testkit';

/** Message types for bus tests only. */
export const workTask = defineMessage({
  type: 'worker.work',
  kind: 'task',
  subject: taskSubject('worker', 'work'),
  description: 'test work item',
  schema: z.object({ n: z.number().int(), note: z.string().optional(), extra: z.unknown().optional() }),
});
export const otherTask = defineMessage({
  type: 'worker.other',
  kind: 'task',
  subject: taskSubject('worker', 'other'),
  description: 'a second task of the worker, which some test consumers do not handle',
  schema: z.object({ n: z.number().int() }),
});
export const workDone = defineMessage({
  type: 'work.done',
  kind: 'event',
  subject: eventSubject('work.done'),
  description: 'test event',
  schema: z.object({ n: z.number().int() }),
});
export const workNoted = defineMessage({
  type: 'work.noted',
  kind: 'event',
  subject: eventSubject('work.noted'),
  description: 'test event nobody handles',
  schema: z.object({ text: z.string() }),
});
export const testRegistry = defineRegistry([workTask, otherTask, workDone, workNoted]);
export type TestRegistry = typeof testRegistry;

export function testConsumer(durable: string, overrides: Partial<ConsumerDefinition> = {}): ConsumerDefinition {
  return {
    stream: 'AGENT_TASKS',
    durable,
    service: 'worker',
    description: 'test consumer',
    filterSubject: 'agents.worker.tasks.>',
    ackWaitMs: 2_000,
    maxDeliver: 5,
    maxAckPending: 1_000,
    retryDelaysMs: [20, 40],
    ...overrides,
  };
}

export interface BusFixture {
  server: NatsServer;
  nc: NatsConnection;
  publisher: Publisher<TestRegistry>;
  ledger: IdempotencyLedger;
  /** A runner for a declared test consumer, with its unhandled-type policy from the topology (as the runtime passes it). */
  runner(durable: string, handlers: HandlerMap<TestRegistry>, extra?: { concurrency?: number; retryDelaysMs?: number[]; ledger?: false; hooks?: ConsumerHooks<TestRegistry> }): Promise<ConsumerRunner<TestRegistry>>;
  close(): Promise<void>;
}

/** A real nats-server with the agentbus topology plus the given test consumers (and streams replacing agentbus's by name). */
export async function busFixture(consumers: ConsumerDefinition[] = [], options: { streams?: StreamDefinition[] } = {}): Promise<BusFixture> {
  const server = await startNats();
  const nc = await connectNats({ servers: server.url, name: 'bus-test' });
  await applyTopology(nc, agentbusTopology({ replicas: 1, consumers, streams: options.streams }));
  const publisher = new Publisher(nc, { registry: testRegistry, source: 'tester' });
  const ledger = await IdempotencyLedger.open(nc);
  const runners: ConsumerRunner<TestRegistry>[] = [];
  return {
    server,
    nc,
    publisher,
    ledger,
    async runner(durable, handlers, extra = {}) {
      const definition = consumers.find((c) => c.durable === durable);
      const runner = new ConsumerRunner({
        nc,
        registry: testRegistry,
        publisher,
        stream: definition?.stream ?? 'AGENT_TASKS',
        consumer: durable,
        handlers,
        ...(definition ? { unhandledTypes: unhandledTypePolicy(definition) } : {}),
        ...(extra.hooks ? { hooks: extra.hooks } : {}),
        ledger: extra.ledger === false ? false : ledger,
        concurrency: extra.concurrency,
        retryDelaysMs: extra.retryDelaysMs ?? definition?.retryDelaysMs,
        shutdownGraceMs: 2_000,
      });
      await runner.start();
      runners.push(runner);
      return runner;
    },
    async close() {
      await Promise.all(runners.map((r) => r.stop()));
      await nc.close();
      await server.stop();
    },
  };
}
