// End to end: each agent has its own NATS identity and may publish only what it owns (issue 13).
// The notifier's key cannot order a deploy: the server refuses it, the error names the identity and
// the subject, and nothing is deployed. A service whose identity lacks a permission it needs does
// not start its consumers: /readyz says not ready and which permission, and its log says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats, natsAuthFrom, Publisher } from '@agentbus/bus';
import { agentbusRegistry } from '@agentbus/contracts';
import { DemoBranches } from '@agentbus/demo';
import { freePort } from '@agentbus/local-nats';
import { agentbusIdentities, agentbusTopology, applyTopology, authorizationConfig, cliConnectionNames, writeCredentialFiles } from '@agentbus/streams';
import { startNats, tempDir, waitFor } from '@agentbus/testkit';
import { getJson, startLoop } from './harness.ts';

test('the notifier\'s identity cannot order a deploy: refused by the server, naming the identity and the subject; nothing is deployed', async (t) => {
  const loop = await startLoop({ allowPermissionViolations: true });
  t.after(() => loop.stop());
  const before = await loop.originHead();
  const notifier = await connectNats({ servers: loop.natsUrl, name: 'notifier', ...natsAuthFrom(loop.natsEnv, 'notifier') });
  t.after(() => notifier.close());
  const publisher = new Publisher(notifier, { registry: agentbusRegistry, source: 'notifier' });
  await assert.rejects(publisher.publish('deployer.deploy', { service: loop.demo.name, ref: DemoBranches.broken, requestedBy: 'a compromised notifier' }), (error: Error & { code?: string; hint?: string }) => {
    assert.equal(error.code, 'permission-denied');
    assert.equal(error.message, 'NATS refused identity notifier permission to publish to "agents.deployer.tasks.deploy"');
    return true;
  });
  const tasks = await (await jetstreamManager(loop.nc)).streams.info('AGENT_TASKS');
  assert.equal(tasks.state.messages, 0, 'no deploy task was stored');
  await loop.waitUntilConsumed();
  assert.equal(await loop.originHead(), before, 'nothing was merged or pushed');
});

test('a service whose identity lacks a permission it needs is not ready, says which, and acts on nothing', async (t) => {
  const dir = tempDir('agentbus-trust-');
  const credentials = writeCredentialFiles(join(dir, 'auth'));
  // The fragment as auth init writes it, less the notifier's right to publish delivery receipts.
  const users = agentbusIdentities().map(({ name, permissions }) => {
    const nkey = credentials.identities.find((identity) => identity.name === name)!.publicKey;
    const allow = name === 'notifier' ? permissions.publish.allow.filter((subject) => subject !== 'events.notification.delivered') : permissions.publish.allow;
    return { name, nkey, permissions: { ...permissions, publish: { ...permissions.publish, allow } } };
  });
  const fragment = join(dir, 'narrow.conf');
  writeFileSync(fragment, authorizationConfig(users));
  const server = await startNats({ includes: [fragment] });
  t.after(() => server.stop());
  const admin = await connectNats({ servers: server.url, name: cliConnectionNames.admin, ...natsAuthFrom({ NATS_CREDENTIALS_DIR: credentials.dir }, 'admin') });
  t.after(() => admin.close());
  await applyTopology(admin, agentbusTopology({ replicas: 1 }));
  const registry = join(dir, 'agentbus.config.json');
  writeFileSync(registry, '{ "version": 1, "services": [] }\n');

  const port = await freePort();
  let log = '';
  const child = spawn(process.execPath, [fileURLToPath(import.meta.resolve('@agentbus/notifier/main'))], {
    env: { ...process.env, NATS_URL: server.url, NATS_CREDENTIALS_DIR: credentials.dir, AGENTBUS_CONFIG: registry, METRICS_PORT: String(port), LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  t.after(async () => {
    child.kill('SIGKILL');
    await exited;
  });
  child.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));

  const readyz = await waitFor('the notifier to answer /readyz', () => getJson(`http://127.0.0.1:${port}/readyz`), 30_000, 100);
  assert.equal(readyz.status, 503);
  assert.equal(readyz.body.status, 'not ready');
  assert.deepEqual(readyz.body.missingPermissions, ['publish events.notification.delivered (publishing notification.delivered)']);
  const line = await waitFor('the log line naming it', () => logLines(log).find((entry) => entry.msg?.startsWith('notifier is not ready: NATS refuses identity notifier what it needs: publish "events.notification.delivered" (publishing notification.delivered)')), 10_000);
  assert.equal(line.level, 'error');
  assert.deepEqual(line.missing, ['publish events.notification.delivered']);
  // Its consumers never started: nothing of the notifier's was pulled.
  const info = await (await jetstreamManager(admin)).consumers.info('AGENT_EVENTS', 'notifier');
  assert.equal(info.num_waiting, 0, 'no pull from the notifier');
  assert.equal(child.exitCode, null, 'it keeps running, not ready, and looks again');
});

function logLines(text: string): Array<{ level?: string; msg?: string; missing?: string[] }> {
  return text.split('\n').flatMap((line) => {
    try {
      return [JSON.parse(line) as { level?: string; msg?: string; missing?: string[] }];
    } catch {
      return [];
    }
  });
}
