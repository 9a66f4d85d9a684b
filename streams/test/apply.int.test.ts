import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectNats } from '@agentbus/bus';
import { jetstreamManager } from '@nats-io/jetstream';
import { agentbusTopology, applyTopology, detectReplicas } from '@agentbus/streams';
import { startNats } from '@agentbus/testkit';

test('apply creates the streams with seed 002 values; a second run changes nothing; a drift is updated', async () => {
  const server = await startNats();
  const nc = await connectNats({ servers: server.url, name: 'apply-test' });
  try {
    const topology = agentbusTopology({ replicas: detectReplicas(nc) });
    assert.equal(topology.replicas, 1);

    const dry = await applyTopology(nc, topology, { dryRun: true });
    assert.ok(dry.changed);
    const jsm = await jetstreamManager(nc);
    assert.equal((await jsm.streams.names().next()).length, 0, 'a dry run creates nothing');

    const first = await applyTopology(nc, topology);
    assert.ok(first.changes.every((c) => c.action === 'create'), JSON.stringify(first.changes));
    const tasks = (await jsm.streams.info('AGENT_TASKS')).config;
    assert.deepEqual(tasks.subjects, ['agents.*.tasks.>', 'agents.*.inbox']);
    assert.equal(tasks.retention, 'limits');
    assert.equal(tasks.max_age, 72 * 3600 * 1e9);
    assert.equal(tasks.max_bytes, 5 * 1024 ** 3);
    assert.equal(tasks.max_msg_size, 1024 * 1024);
    assert.equal(tasks.storage, 'file');
    assert.equal(tasks.discard, 'old');
    assert.equal(tasks.duplicate_window, 120 * 1e9);
    assert.equal(tasks.num_replicas, 1);
    const deployer = (await jsm.consumers.info('AGENT_TASKS', 'deployer')).config;
    assert.equal(deployer.max_deliver, 5);
    // Seed 002's 60 s is the last wait; a delivery lost in flight comes back after the first step (5 s).
    assert.deepEqual(deployer.backoff, [5e9, 15e9, 30e9, 60e9]);
    assert.equal(deployer.ack_wait, 5 * 1e9);
    assert.equal(deployer.filter_subject, 'agents.deployer.tasks.>');
    assert.equal((await jsm.streams.info('KV_AGENTBUS_LEDGER')).config.max_msgs_per_subject, 1);

    const second = await applyTopology(nc, topology);
    assert.equal(second.changed, false);
    assert.ok(second.changes.every((c) => c.action === 'unchanged'));

    await jsm.consumers.update('AGENT_TASKS', 'deployer', { max_deliver: 9 });
    const third = await applyTopology(nc, topology);
    const drift = third.changes.filter((c) => c.action !== 'unchanged');
    assert.deepEqual(drift.map((c) => [c.name, c.action]), [['AGENT_TASKS/deployer', 'update']]);
    assert.match(drift[0]!.fields[0]!, /max_deliver: 9 → 5/);
    assert.equal((await jsm.consumers.info('AGENT_TASKS', 'deployer')).config.max_deliver, 5);
  } finally {
    await nc.close();
    await server.stop();
  }
});

test('on a three-node cluster the streams get three replicas', async () => {
  const { startNatsCluster } = await import('@agentbus/testkit');
  const cluster = await startNatsCluster(3);
  const nc = await connectNats({ servers: cluster.urls, name: 'apply-cluster-test' });
  try {
    const topology = agentbusTopology({ replicas: detectReplicas(nc) });
    assert.equal(topology.replicas, 3);
    await applyTopology(nc, topology);
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info('AGENT_EVENTS');
    assert.equal(info.config.num_replicas, 3);
    assert.equal(info.cluster?.replicas?.length, 2);
  } finally {
    await nc.close();
    await cluster.stop();
  }
});
