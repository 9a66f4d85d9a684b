import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { agentbusRegistry, postmortemPath, type AgentbusRegistry, type Envelope } from '@agentbus/contracts';
import { connectNats, Publisher, silentLogger, type HandlerContext } from '@agentbus/bus';
import type { Postmortem } from '@agentbus/incident';
import { openStateBackend, StateStore, type WriteOptions, type WriteResult } from '@agentbus/state';
import { agentbusTopology, applyTopology } from '@agentbus/streams';
import { startNats, tempDir } from '@agentbus/testkit';
import { writePostmortem, type PostmortemDeps } from '../src/handlers/write-postmortem.ts';

/** A store whose first put lets `before` run first: another writer that read later and writes sooner. */
class RacedStore extends StateStore {
  private raced = false;
  constructor(base: StateStore, private readonly before: () => Promise<void>) {
    super({ backend: base.backend, agent: 'postmortem' });
  }
  override async put(path: string, data: unknown, options: WriteOptions): Promise<WriteResult> {
    if (!this.raced) {
      this.raced = true;
      await this.before();
    }
    return super.put(path, data, options);
  }
}

function contextFor(publisher: Publisher<AgentbusRegistry>, trigger: Envelope): HandlerContext<AgentbusRegistry> {
  return {
    delivery: { stream: 'AGENT_EVENTS', consumer: 'postmortem', streamSeq: 1, deliveryCount: 1, maxDeliver: 5, resent: false },
    publish: (type, data, options = {}) => publisher.publish(type, data, { ...options, causedBy: trigger }),
    step: async (_name, fn) => fn(),
    working: () => {},
    redeliverIn: () => {},
    yieldWhile: (wait) => wait(),
    signal: new AbortController().signal,
    log: silentLogger,
  };
}

test('two post-mortem writers racing on one incident: the newest version tells every event either saw (the loser builds again)', async (t) => {
  const server = await startNats();
  t.after(() => server.stop());
  const nc = await connectNats({ servers: server.url, name: 'postmortem-test' });
  t.after(() => nc.close());
  await applyTopology(nc, agentbusTopology({ replicas: 1 }));
  const publisher = new Publisher(nc, { registry: agentbusRegistry, source: 'tester' });
  const store = new StateStore({ backend: await openStateBackend({ backend: 'nats-kv', nc }), agent: 'postmortem' });
  const dir = join(tempDir('agentbus-postmortems-'), 'postmortems');
  mkdirSync(dir);
  const incident = 'incident-race-1';
  const escalate = (n: number) =>
    publisher.publish('escalation.raised', { dedupKey: `agentbus.lease-conflict.api.${n}`, kind: 'lease-conflict', severity: 'warning', service: 'api', summary: `conflict ${n}`, details: {} }, { correlationId: incident });
  const first = await escalate(1);
  const trigger = { id: first.id, type: 'escalation.raised', source: 'tester', time: new Date().toISOString(), correlationId: incident, data: {} } as Envelope;
  const deps = (state: StateStore): PostmortemDeps => ({ nc, state, services: [], dir, ticketLabels: undefined, lookbackMs: 3_600_000 });

  // Writer A reads the incident (one event), then, before it writes, writer B reads a second event and writes.
  const raced = new RacedStore(store, async () => {
    await escalate(2);
    await writePostmortem(deps(store), trigger, contextFor(publisher, trigger));
  });
  await writePostmortem(deps(raced), trigger, contextFor(publisher, trigger));

  const head = await store.get(postmortemPath(incident));
  const postmortem = head.data as unknown as Postmortem;
  assert.deepEqual(postmortem.escalations.map((e) => e.summary), ['conflict 1', 'conflict 2'], 'the newest version has what the later reader saw: the stale build was not written over it');
});
