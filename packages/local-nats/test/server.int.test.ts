import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { NatsServer, findNatsServerBinary } from '@agentbus/local-nats';
import { startNats, startNatsCluster, tempDir } from '@agentbus/testkit';

test('a single node starts on a free port with JetStream, restarts on the same port and keeps its store', async () => {
  const server = await startNats();
  try {
    const nc = await connect({ servers: server.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'KEEP', subjects: ['keep.>'] });
    await nc.close();

    const port = server.port;
    await server.kill();
    assert.equal(server.running, false);
    await server.restart();
    assert.equal(server.port, port);
    const again = await connect({ servers: server.url });
    const info = await (await jetstreamManager(again)).streams.info('KEEP');
    assert.equal(info.config.name, 'KEEP');
    await again.close();
  } finally {
    await server.stop();
  }
});

test('a three-node cluster elects a meta leader and places an R3 stream', async () => {
  const cluster = await startNatsCluster(3);
  try {
    assert.equal(new Set(cluster.urls).size, 3);
    const nc = await connect({ servers: cluster.urls });
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.add({ name: 'R3', subjects: ['r3.>'], num_replicas: 3 });
    assert.equal(info.config.num_replicas, 3);
    assert.equal((info.cluster?.replicas ?? []).length, 2);
    await nc.close();
  } finally {
    await cluster.stop();
  }
});

test('a missing binary is a clear error with install instructions', () => {
  assert.throws(
    () => findNatsServerBinary('/nonexistent/nats-server'),
    (error: Error & { code?: string; hint?: string }) => error.code === 'nats-server-missing' && /apt-get install nats-server/.test(error.hint ?? ''),
  );
});

test('a server whose port is taken fails fast, naming the cause', async () => {
  const first = await startNats();
  try {
    await assert.rejects(
      NatsServer.start({ storeDir: tempDir(), port: first.port }),
      (error: Error & { code?: string }) => error.code === 'nats-server-failed' && /address already in use/i.test(error.message),
    );
  } finally {
    await first.stop();
  }
});
