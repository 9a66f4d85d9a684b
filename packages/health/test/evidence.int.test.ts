import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kvm } from '@nats-io/kv';
import { connectNats } from '@agentbus/bus';
import { HealthEvidenceStore, HEALTH_EVIDENCE_BUCKET, type Evidence } from '@agentbus/health';
import { agentbusTopology, applyTopology } from '@agentbus/streams';
import { startNats } from '@agentbus/testkit';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
const evidence = (source: Evidence['source'], startSecond: number, healthy: boolean): Evidence => ({ source, healthy, checkedAt: at(startSecond), finishedAt: at(startSecond + 1), checks: [] });

test('the newest evidence of any kind wins, whatever order it was written in; older than the previous deployment does not count; outages are shared', async (t) => {
  const server = await startNats();
  t.after(() => server.stop());
  const nc = await connectNats({ servers: server.url, name: 'evidence-test' });
  t.after(() => nc.close());
  await applyTopology(nc, agentbusTopology({ replicas: 1 }));
  const store = await HealthEvidenceStore.open(nc);

  assert.equal(await store.latest('api'), undefined, 'nothing seen yet');
  await store.record('api', evidence('verdict', 10, false)); // the bad deployment's verdict
  await store.record('api', evidence('rollback', 20, true)); // its rollback's re-probe
  await store.record('api', evidence('watch', 15, false)); // a watch sample taken while the bad code ran, written last
  const latest = await store.latest('api');
  assert.equal(latest?.source, 'rollback', 'a late write of an older sample does not hide the newer evidence');
  assert.equal(latest?.healthy, true);
  assert.equal((await store.latest('api', { notBefore: Date.parse(at(21)) })), undefined, 'nothing since the previous deployment');
  assert.equal((await store.latest('api', { finishedBy: Date.parse(at(17)) }))?.source, 'watch', 'the newest that had finished by then');
  assert.equal(await store.latest('web'), undefined, 'per service');

  // What does not parse is no evidence (a reader never fails on it).
  await new Kvm(nc).open(HEALTH_EVIDENCE_BUCKET).then((kv) => kv.put('evidence.api.deploy-probe', '{"not":"evidence"}'));
  assert.equal((await store.latest('api'))?.source, 'rollback');

  assert.equal(await store.outage('api'), undefined);
  await store.setOutage('api', { since: at(5), incidentId: 'outage-api-5', escalated: false });
  const other = await HealthEvidenceStore.open(nc); // another health monitor sees the same outage
  assert.deepEqual(await other.outage('api'), { since: at(5), incidentId: 'outage-api-5', escalated: false });
  await other.setOutage('api', undefined);
  assert.equal(await store.outage('api'), undefined);
  await assert.rejects(store.record('API; rm -rf', evidence('watch', 1, true)), /not a service name/);
});
