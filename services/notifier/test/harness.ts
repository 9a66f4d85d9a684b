import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { agentbusRegistry, StreamNames, type AgentbusRegistry, type AnyEnvelopeOf } from '@agentbus/contracts';
import { connectNats, Publisher, readStream, type StoredMessage } from '@agentbus/bus';
import { runService, type RunningService } from '@agentbus/runtime';
import { agentbusConsumers, agentbusTopology, applyTopology, type ConsumerDefinition } from '@agentbus/streams';
import { startNats, tempDir, type NatsServer } from '@agentbus/testkit';
import { notifierService } from '@agentbus/notifier';

/** The notifier against a real nats-server, with short delivery time-outs and retry delays. */
export interface NotifierHarness {
  server: NatsServer;
  nc: NatsConnection;
  publisher: Publisher<AgentbusRegistry>;
  service: RunningService;
  /** Every log line the notifier wrote (JSON). */
  logs: string[];
  consumers: ConsumerDefinition[];
  /** Stops the notifier and starts it again on the same server, configuration and consumers. */
  restart(): Promise<void>;
  /** The stored messages of a stream (optionally one subject filter). */
  stored(stream: string, subject?: string): Promise<StoredMessage[]>;
  events<T extends AnyEnvelopeOf<AgentbusRegistry>['type']>(type: T): Promise<Array<Extract<AnyEnvelopeOf<AgentbusRegistry>, { type: T }>>>;
  /** True when the consumer has nothing pending and nothing un-acked (including naks waiting for their delay). */
  idle(durable: 'notifier' | 'notifier-deliveries'): Promise<boolean>;
  close(): Promise<void>;
}

const decoder = new TextDecoder();

export async function startNotifierHarness(options: { notifications: Record<string, unknown>; env?: Record<string, string>; deliveries?: Partial<ConsumerDefinition> }): Promise<NotifierHarness> {
  const server = await startNats();
  const nc = await connectNats({ servers: server.url, name: 'notifier-test' });
  const declared = agentbusConsumers.find((c) => c.durable === 'notifier-deliveries')!;
  const deliveries: ConsumerDefinition = { ...declared, ackWaitMs: 5_000, maxDeliver: 3, retryDelaysMs: [50, 100], ...options.deliveries };
  const topology = agentbusTopology({ replicas: 1, consumers: [deliveries] });
  await applyTopology(nc, topology);
  const dir = tempDir('agentbus-notifier-');
  const config = join(dir, 'agentbus.config.json');
  writeFileSync(config, JSON.stringify({ version: 1, services: [], notifications: options.notifications }, null, 2));
  const env = { NATS_URL: server.url, AGENTBUS_CONFIG: config, METRICS_PORT: '0', LOG_LEVEL: 'debug', SHUTDOWN_GRACE_MS: '2000', ...options.env };
  const logs: string[] = [];
  const logDestination = new Writable({ write: (chunk, _encoding, done) => (logs.push(String(chunk)), done()) });
  const start = () => runService(notifierService, { env, consumers: topology.consumers, logDestination });
  const harness: NotifierHarness = {
    server,
    nc,
    publisher: new Publisher(nc, { registry: agentbusRegistry, source: 'tester' }),
    service: await start(),
    logs,
    consumers: topology.consumers,
    async restart() {
      await harness.service.stop();
      harness.service = await start();
    },
    async stored(stream, subject) {
      const out: StoredMessage[] = [];
      for await (const message of readStream(nc, { stream, fromSeq: 1, ...(subject ? { subject } : {}) })) out.push(message);
      return out;
    },
    async events(type) {
      const stored = await harness.stored(StreamNames.events);
      return stored.map((m) => JSON.parse(decoder.decode(m.data))).filter((e) => e.type === type);
    },
    async idle(durable) {
      const stream = durable === 'notifier' ? StreamNames.events : StreamNames.tasks;
      const info = await (await jetstreamManager(nc)).consumers.info(stream, durable);
      return info.num_pending === 0 && info.num_ack_pending === 0;
    },
    async close() {
      await harness.service.stop();
      await nc.close();
      await server.stop();
    },
  };
  return harness;
}

export const text = (message: StoredMessage) => `${JSON.stringify(message.headers)} ${decoder.decode(message.data)}`;
