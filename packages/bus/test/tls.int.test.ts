import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectNats, natsAuthFrom, Publisher, readStream } from '@agentbus/bus';
import { agentbusTopology, applyTopology } from '@agentbus/streams';
import { makeTlsFiles, startNats, tempDir } from '@agentbus/testkit';
import { testRegistry } from './fixture.ts';

test('client TLS from the environment: a client with the CA and its certificate publishes and reads; one without a certificate is refused, saying so', async (t) => {
  const tls = makeTlsFiles(tempDir('agentbus-tls-'));
  const server = await startNats({ includes: [tls.serverFragment] });
  t.after(() => server.stop());

  const nc = await connectNats({ servers: server.url, name: 'tls-test', ...natsAuthFrom(tls.clientEnv) });
  t.after(() => nc.close());
  assert.equal(nc.info?.tls_required, true, 'the server speaks TLS only');
  await applyTopology(nc, agentbusTopology({ replicas: 1 }));
  const sent = await new Publisher(nc, { registry: testRegistry, source: 'tls-test' }).publish('worker.work', { n: 1 });
  const stored = [];
  for await (const message of readStream(nc, { stream: 'AGENT_TASKS' })) stored.push(message);
  assert.deepEqual(stored.map((m) => m.headers['Nats-Msg-Id']), [sent.id]);

  // The CA alone (the server verifies clients), and nothing at all: both refused, with a clear error.
  for (const [env, hint] of [[{ NATS_TLS_CA: tls.caFile }, /refuses a client without a certificate: set NATS_TLS_CERT and NATS_TLS_KEY/], [{}, /set NATS_TLS_CA to the CA that signed it/]] as const) {
    await assert.rejects(connectNats({ servers: server.url, name: 'no-cert', timeoutMs: 3_000, ...natsAuthFrom(env) }), (error: Error & { code?: string; hint?: string }) => {
      assert.equal(error.code, 'nats-unreachable', error.message);
      assert.match(error.message, /cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+/);
      assert.match(error.hint ?? '', hint);
      return true;
    });
  }
  // A certificate without its key is a configuration error, named before any connection.
  await assert.rejects(connectNats({ servers: server.url, name: 'half', ...natsAuthFrom({ NATS_TLS_CERT: tls.clientCert }) }), /NATS_TLS_CERT and NATS_TLS_KEY go together/);
});
