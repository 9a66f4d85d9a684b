import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { agentbusRegistry } from '@agentbus/contracts';
import { jetstream } from '@nats-io/jetstream';
import { connectNats, listDeadLetters, Publisher, readStream } from '@agentbus/bus';
import { agentbusTopology, applyTopology, type ConsumerDefinition } from '@agentbus/streams';
import { defineService, loadServiceConfig, runService, ServiceExitCodes } from '@agentbus/runtime';
import { startNats, tempDir, waitFor } from '@agentbus/testkit';

test('configuration problems are reported together, each naming its variable', () => {
  assert.throws(
    () => loadServiceConfig('svc', { AGENTBUS_CONFIG: z.string({ error: 'required: the service registry file' }) }, { METRICS_PORT: '99999', LOG_LEVEL: 'loud' }),
    (error: Error & { code?: string }) =>
      error.code === 'config-invalid' &&
      /NATS_URL: required/.test(error.message) &&
      /METRICS_PORT: /.test(error.message) &&
      /LOG_LEVEL: /.test(error.message) &&
      /AGENTBUS_CONFIG: required: the service registry file/.test(error.message),
  );
});

test('a service: handlers run with lifecycle events, metrics and health endpoints; logs carry the correlationId; stop drains', async () => {
  const server = await startNats();
  const consumers: ConsumerDefinition[] = [
    { stream: 'AGENT_TASKS', durable: 'rt-test', service: 'rt-test', description: 'test', filterSubject: 'agents.deployer.tasks.>', ackWaitMs: 2_000, maxDeliver: 2, maxAckPending: 100, retryDelaysMs: [20] },
  ];
  const nc = await connectNats({ servers: server.url, name: 'rt-test-client' });
  await applyTopology(nc, agentbusTopology({ replicas: 1, consumers }));
  const lines: string[] = [];
  const logDestination = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
  const seen: string[] = [];
  const definition = defineService({
    name: 'rt-test',
    description: 'runtime test service',
    settings: { GREETING: z.string().default('hello') },
    start: (ctx) => ({
      'rt-test': {
        handlers: {
          'deployer.deploy': async (envelope, handlerCtx) => {
            handlerCtx.log.info({ ref: envelope.data.ref }, `${ctx.settings.GREETING} ${envelope.data.service}`);
            if (envelope.data.ref === 'broken') throw new Error('cannot deploy broken');
            seen.push(envelope.data.ref);
          },
        },
      },
    }),
  });
  const service = await runService(definition, { env: { NATS_URL: server.url, METRICS_PORT: '0', LOG_LEVEL: 'info' }, consumers, logDestination });
  try {
    const ready = await fetch(service.metricsUrl.replace('/metrics', '/readyz'));
    assert.equal(ready.status, 200);
    assert.equal((await fetch(service.metricsUrl.replace('/metrics', '/healthz'))).status, 200);

    const publisher = new Publisher(nc, { registry: agentbusRegistry, source: 'tester' });
    const ok = await publisher.publish('deployer.deploy', { service: 'api', ref: 'main', requestedBy: 't' });
    const bad = await publisher.publish('deployer.deploy', { service: 'api', ref: 'broken', requestedBy: 't' });
    await waitFor('handled', () => seen.includes('main'));

    const events = async () => {
      const out: Array<{ type: string; correlationId: string; data: Record<string, unknown> }> = [];
      for await (const m of readStream(nc, { stream: 'AGENT_EVENTS', fromSeq: 1 })) out.push(JSON.parse(new TextDecoder().decode(m.data)));
      return out;
    };
    await waitFor('lifecycle events', async () => (await events()).filter((e) => e.type === 'task.failed').length === 2);
    const all = await events();
    const forOk = all.filter((e) => e.correlationId === ok.id).map((e) => e.type);
    assert.deepEqual(forOk, ['task.started', 'task.completed']);
    const forBad = all.filter((e) => e.correlationId === bad.id);
    assert.deepEqual(forBad.map((e) => e.type), ['task.started', 'task.failed', 'task.started', 'task.failed']);
    assert.deepEqual(forBad.map((e) => e.data.willRetry).filter((w) => w !== undefined), [true, false]);
    assert.equal((forBad[1]!.data.error as { message: string }).message, 'cannot deploy broken');

    const metrics = await (await fetch(service.metricsUrl)).text();
    assert.match(metrics, /agentbus_messages_total\{consumer="rt-test",type="deployer.deploy",outcome="acked",service="rt-test"\} 1/);
    assert.match(metrics, /agentbus_messages_total\{consumer="rt-test",type="deployer.deploy",outcome="dead-lettered",service="rt-test"\} 1/);
    assert.match(metrics, /agentbus_handler_seconds_count\{service="rt-test",consumer="rt-test",type="deployer.deploy",result="ok"\} 1/);

    const greeting = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'hello api');
    assert.ok(greeting, 'the handler logged through the runtime logger');
    assert.equal(greeting.correlationId, ok.id);
    assert.equal(greeting.service, 'rt-test');
  } finally {
    await service.stop();
    await nc.close();
    await server.stop();
  }
  assert.ok(lines.some((l) => /rt-test stopped/.test(l)));
});

test('each consumer gets its unhandled-type policy from streams/: a type no handler takes is dead-lettered on a task subject and skipped (counted) on the events stream', async () => {
  const server = await startNats();
  const consumers: ConsumerDefinition[] = [
    { stream: 'AGENT_TASKS', durable: 'rt-tasks', service: 'rt-policy', description: 'test', filterSubject: 'agents.deployer.tasks.>', ackWaitMs: 2_000, maxDeliver: 2, maxAckPending: 100, retryDelaysMs: [20] },
    { stream: 'AGENT_EVENTS', durable: 'rt-events', service: 'rt-policy', description: 'test', filterSubject: 'events.>', ackWaitMs: 2_000, maxDeliver: 2, maxAckPending: 100, retryDelaysMs: [20] },
  ];
  const nc = await connectNats({ servers: server.url, name: 'rt-policy-client' });
  await applyTopology(nc, agentbusTopology({ replicas: 1, consumers }));
  const definition = defineService({
    name: 'rt-policy',
    description: 'runtime test service',
    settings: {},
    start: () => ({ 'rt-tasks': { handlers: { 'deployer.deploy': () => {} } }, 'rt-events': { handlers: { 'deploy.completed': () => {} } } }),
  });
  const service = await runService(definition, { env: { NATS_URL: server.url, METRICS_PORT: '0', LOG_LEVEL: 'error' }, consumers, logDestination: new Writable({ write: (_chunk, _enc, done) => done() }) });
  try {
    // health.passed on the deployer's task subject (a foreign client can put it there).
    const id = 'misrouted-health-passed';
    const envelope = { id, type: 'health.passed', source: 'rogue', time: new Date().toISOString(), correlationId: id, data: {} };
    await jetstream(nc).publish('agents.deployer.tasks.deploy', JSON.stringify(envelope), { msgID: id });
    await new Publisher(nc, { registry: agentbusRegistry, source: 'tester' }).publish('escalation.resolved', { dedupKey: 'k', summary: 'nobody here handles this' });

    const letter = await waitFor('the dead letter', async () => (await listDeadLetters(nc)).find((l) => l.original.msgId === id));
    assert.equal(letter.reason, 'unhandled-type');
    assert.equal(letter.consumer, 'rt-tasks');
    assert.match(letter.error, /no handler for health\.passed \(it handles deployer\.deploy\)/);
    const metrics = await waitFor('both outcomes counted', async () => {
      const text = await (await fetch(service.metricsUrl)).text();
      return /outcome="skipped-unhandled"/.test(text) && /outcome="dead-lettered"/.test(text) ? text : undefined;
    });
    assert.match(metrics, /agentbus_messages_total\{consumer="rt-tasks",type="health.passed",outcome="dead-lettered",service="rt-policy"\} 1/);
    assert.match(metrics, /agentbus_messages_total\{consumer="rt-events",type="escalation.resolved",outcome="skipped-unhandled",service="rt-policy"\} 1/);
    assert.equal((await listDeadLetters(nc)).length, 1, 'the skipped event is not a dead letter');
  } finally {
    await service.stop();
    await nc.close();
    await server.stop();
  }
});

test('a service process whose metrics port is taken exits with ServiceExitCodes.portTaken (its supervisor starts it on another port)', async (t) => {
  const server = await startNats();
  t.after(() => server.stop());
  const dir = tempDir('agentbus-runtime-');
  const config = join(dir, 'agentbus.config.json');
  writeFileSync(config, JSON.stringify({ version: 1, services: [] }));
  const holder = createServer().listen(0, '127.0.0.1');
  await once(holder, 'listening');
  t.after(() => holder.close());
  const port = (holder.address() as AddressInfo).port;
  const child = spawn(process.execPath, [fileURLToPath(new URL('../../../services/deployer/index.js', import.meta.url))], {
    env: { ...process.env, NATS_URL: server.url, AGENTBUS_CONFIG: config, METRICS_PORT: String(port), LOG_LEVEL: 'error' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, ServiceExitCodes.portTaken, stderr);
  assert.match(stderr, /EADDRINUSE/);
});
