import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectNats, Publisher } from '@agentbus/bus';
import { agentbusRegistry } from '@agentbus/contracts';
import { agentbusTopology, applyTopology } from '@agentbus/streams';
import { startNats, waitFor } from '@agentbus/testkit';
import { followIncident, type IncidentEvent } from '@agentbus/incident';

test('following an incident survives a NATS restart: every event stored before, during and after it is yielded once, in order', async (t) => {
  const server = await startNats();
  t.after(() => server.stop());
  const nc = await connectNats({ servers: server.url, name: 'follow-test' });
  t.after(() => nc.close());
  await applyTopology(nc, agentbusTopology({ replicas: 1 }));
  const publisher = new Publisher(nc, { registry: agentbusRegistry, source: 'follow-test' });
  const incident = 'incident-follow-1';
  const recovered = (n: number, correlationId = incident) =>
    publisher.publish('health.recovered', { service: 'api', unhealthySince: new Date(0).toISOString(), recoveredAt: new Date(0).toISOString(), unhealthyMs: n }, { correlationId });

  const since = new Date(Date.now() - 1_000);
  await recovered(1);
  const seen: IncidentEvent[] = [];
  const stop = new AbortController();
  const follow = (async () => {
    for await (const event of followIncident(nc, incident, { since, signal: stop.signal })) seen.push(event);
  })();
  t.after(() => stop.abort());
  await waitFor('the event stored before the follow began', () => seen.length === 1);
  await recovered(2, 'another-incident');
  await recovered(3);

  await server.restart();
  await recovered(4);
  await recovered(5, 'another-incident');
  await recovered(6);

  await waitFor('the events stored after the restart', () => seen.length === 4, 30_000);
  assert.deepEqual(seen.map((e) => (e.type === 'health.recovered' ? e.data.unhealthyMs : -1)), [1, 3, 4, 6], 'only this incident, each once, in order');
  assert.ok(seen.every((e, i) => i === 0 || e.seq > seen[i - 1]!.seq));
  stop.abort();
  await follow;
});
