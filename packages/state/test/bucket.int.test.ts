import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '@agentbus/bus';
import { agentbusTopology, applyTopology } from '@agentbus/streams';
import { startNats, type NatsServer } from '@agentbus/testkit';
import { ensureStateBucket, openNatsKvBackend, stateBucketConfig, StateStore, DEFAULT_STATE_BUCKET } from '@agentbus/state';

let server: NatsServer;
let nc: NatsConnection;
before(async () => {
  server = await startNats();
  nc = await connectNats({ servers: server.url, name: 'state-bucket-test' });
});
after(async () => {
  await nc.close();
  await server.stop();
});

test('`agentbus streams apply` creates the state bucket, and the nats-kv backend writes to it', async () => {
  const applied = await applyTopology(nc, agentbusTopology({ replicas: 1 }));
  assert.deepEqual(applied.changes.filter((change) => change.name === DEFAULT_STATE_BUCKET).map((change) => change.action), ['create']);
  const store = new StateStore({ backend: await openNatsKvBackend({ nc }), agent: 'test' });
  assert.equal((await store.put('services/api', { replicas: 1 }, { reason: 'first' })).version.envelope.number, 1);
  assert.equal((await ensureStateBucket(nc)).created, false, 'ensureStateBucket leaves an existing bucket alone');
});

test('a bucket made by ensureStateBucket is what the topology wants: apply reports it unchanged', async () => {
  const config = stateBucketConfig({ bucket: 'state_ensured' });
  assert.deepEqual(await ensureStateBucket(nc, config), { created: true });
  const definition = agentbusTopology({ replicas: 1 }).buckets.find((bucket) => bucket.bucket === DEFAULT_STATE_BUCKET)!;
  const report = await applyTopology(nc, agentbusTopology({ replicas: 1, buckets: [{ ...definition, bucket: 'state_ensured' }] }), { dryRun: true });
  assert.deepEqual(report.changes.filter((change) => change.name === 'state_ensured').map((change) => [change.action, change.fields]), [['unchanged', []]]);
});
