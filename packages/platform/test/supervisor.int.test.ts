// The supervisor of `agentbus up` and of the e2e harness, with a real nats-server and a real
// service process (the notifier): restart policies, a port taken on restart, stop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from '@nats-io/transport-node';
import { NatsServer } from '@agentbus/local-nats';
import { agentbusTopology, applyTopology } from '@agentbus/streams';
import { isServiceName, RestartPolicies, Supervisor, type SupervisorEvent, type SupervisorOptions } from '../src/index.ts';

async function readyz(port: number): Promise<boolean> {
  return (await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1_000) }).catch(() => undefined))?.ok ?? false;
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A nats-server with the agentbus topology and an empty registry; a supervisor factory whose services log to one file. */
async function setUp(t: { after(fn: () => Promise<void> | void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'agentbus-supervisor-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const server = await NatsServer.start({ storeDir: join(dir, 'nats') });
  t.after(() => server.stop());
  const nc = await connect({ servers: server.url });
  await applyTopology(nc, agentbusTopology({ replicas: 1 }));
  await nc.close();
  const registry = join(dir, 'agentbus.config.json');
  writeFileSync(registry, JSON.stringify({ version: 1, services: [] }));
  const logPath = join(dir, 'services.log');
  const events: SupervisorEvent[] = [];
  const supervise = (options: Pick<SupervisorOptions, 'restart'>) => {
    const supervisor = new Supervisor({
      env: { PATH: process.env.PATH, NATS_URL: server.url, AGENTBUS_CONFIG: registry, LOG_LEVEL: 'warn', SHUTDOWN_GRACE_MS: '2000' },
      logPath: () => logPath,
      readyTimeoutMs: 30_000,
      killAfterMs: 20_000, // a loaded machine may take seconds to drain
      onEvent: (event) => events.push(event),
      ...options,
    });
    t.after(() => supervisor.stop());
    return supervisor;
  };
  return { supervise, events, log: () => readFileSync(logPath, 'utf8') };
}

test('service names are those of the platform', () => {
  assert.equal(isServiceName('notifier'), true);
  assert.equal(isServiceName('toString'), false);
});

test('restart policy always: a service killed after it was ready is started again 1 s later, and on another port when its own was taken meanwhile', async (t) => {
  const { supervise, events, log } = await setUp(t);
  const supervisor = supervise({ restart: RestartPolicies.always });
  const service = await supervisor.start('notifier');
  const firstPort = service.port;
  assert.equal(await readyz(firstPort), true);

  const firstPid = service.child.pid;
  service.child.kill('SIGKILL');
  await until('a restart', () => events.length === 1);
  assert.deepEqual({ ...events[0], service: undefined }, { type: 'restarting', service: undefined, code: null, signal: 'SIGKILL', delayMs: 1_000 });
  // While it waits out its delay, another process takes its port: the relaunch exits with portTaken and is started on another port.
  const squatter = createServer();
  await new Promise<void>((resolve, reject) => squatter.once('error', reject).listen(firstPort, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => squatter.close(() => resolve())));
  await until('the port to move', () => events.some((e) => e.type === 'port-moved'), 30_000);
  const restarting = events.filter((e) => e.type === 'restarting');
  assert.equal(restarting.length, 2, log());
  assert.deepEqual(restarting.map((e) => e.type === 'restarting' && [e.code, e.delayMs]), [[null, 1_000], [75, 2_000]]);
  assert.notEqual(service.port, firstPort);
  await until('the service on its new port', () => readyz(service.port));
  assert.notEqual(service.child.pid, firstPid);
  assert.equal(service.restarts, 2);

  await supervisor.stop();
  assert.equal(await service.exited, 0, 'SIGTERM drains and exits 0');
  await sleep(1_500);
  assert.equal(service.restarts, 2, 'a stopped service is not restarted');
});

test('restart policy never: a killed service stays down; stop() is quiet about it', async (t) => {
  const { supervise, events } = await setUp(t);
  const supervisor = supervise({ restart: RestartPolicies.never });
  const service = await supervisor.start('notifier');
  service.child.kill('SIGKILL');
  assert.equal(await service.exited, 'SIGKILL');
  await sleep(1_500);
  assert.deepEqual(events, []);
  assert.equal(service.restarts, 0);
  assert.equal(await readyz(service.port), false);
  await supervisor.stop();
});

test('a service that cannot start fails its readiness at once, naming its exit and the end of its log', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'agentbus-supervisor-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const supervisor = new Supervisor({ env: { PATH: process.env.PATH }, logPath: () => join(dir, 'services.log'), restart: RestartPolicies.always });
  t.after(() => supervisor.stop());
  const started = Date.now();
  await assert.rejects(supervisor.start('notifier'), (error: Error & { code?: string }) => error.code === 'service-not-ready' && /exited with 1/.test(error.message) && /NATS_URL/.test(error.message));
  assert.ok(Date.now() - started < 20_000, 'it does not wait out the time-out');
});
