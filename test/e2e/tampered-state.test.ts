// End to end: tampered state is never acted on (issue 13, "Tampered state is never acted on"). A
// release manifest whose head was edited after it was written (its data no longer matches its
// hash): the failing deploy it describes is not reverted on its word, one chain-break escalation
// asks a human, and `agentbus state get` refuses to show it as data. The periodic integrity sweep
// finds a tampered document by itself. A quarantine, a post-mortem and a pages document tampered
// with are not built on either.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kvm } from '@nats-io/kv';
import { jetstream } from '@nats-io/jetstream';
import { DemoBranches } from '@agentbus/demo';
import { requestDeploy } from '@agentbus/platform';
import { readStream } from '@agentbus/bus';
import { escalation, StreamNames } from '@agentbus/contracts';
import { DEFAULT_STATE_BUCKET, openStateBackend, StateStore } from '@agentbus/state';
import { runCli, startWebhookReceiver, waitFor } from '@agentbus/testkit';
import { eventOf, startLoop } from './harness.ts';

test('a failing deploy whose release manifest was tampered with is not reverted: rollback.skipped (tampered-state), one chain-break escalation, state get exits 1', async (t) => {
  const loop = await startLoop({ registry: { stabilizationMs: 1_500, followupOffsetsMs: [] } });
  t.after(() => loop.stop());
  const { taskId } = await requestDeploy(loop.nc, { service: loop.demo.name, ref: DemoBranches.broken, requestedBy: 'e2e-test' }, { source: 'e2e-test' });
  const completed = await loop.waitForEvent(taskId, 'deploy.completed');
  const mergeCommit = (completed.data as { mergeCommit: string }).mergeCommit;
  // In the stabilization window: someone edits the manifest's head (and its version record) in the bucket, past the state store.
  const record = { envelope: { number: await loop.tamperHead(`releases/${loop.demo.name}`, (data) => void (data.ref = 'feature/someone-else')) } };

  const skipped = await loop.waitForEvent(taskId, 'rollback.skipped');
  assert.equal((skipped.data as { reason: string }).reason, 'tampered-state');
  assert.match((skipped.data as { detail: string }).detail, new RegExp(`^releases/${loop.demo.name} fails verification: version ${record.envelope.number}'s data was changed after it was written .*; agentbus decides nothing on it$`));
  await loop.waitUntilConsumed();
  const events = await loop.events(taskId);
  assert.equal(eventOf(events, 'rollback.started'), undefined, 'nothing was reverted');
  assert.equal(await loop.originHead(), mergeCommit, 'the merge is still on origin');
  const escalations = events.filter((e) => e.type === 'escalation.raised').map((e) => (e.data as { kind: string; dedupKey: string }));
  assert.deepEqual(escalations.map((e) => [e.kind, e.dedupKey]), [['chain-break', `agentbus.chain-break.releases_${loop.demo.name}.${record.envelope.number}`]], 'one chain-break escalation, as `state verify` raises it');

  const shown = await runCli(['state', 'get', `releases/${loop.demo.name}`], { env: loop.cliEnv });
  assert.equal(shown.code, 1);
  assert.match(shown.stderr, new RegExp(`releases/${loop.demo.name} version ${record.envelope.number} fails verification \\(data-changed\\)`));
  assert.doesNotMatch(shown.stdout, /someone-else/);
});

test('the periodic integrity sweep finds a document tampered with past the state store and raises one chain-break escalation for it, however often it finds it', async (t) => {
  const loop = await startLoop({ registry: { followupOffsetsMs: [] }, env: { HEALTH_INTEGRITY_SWEEP_MS: '300' } });
  t.after(() => loop.stop());
  const store = new StateStore({ backend: await openStateBackend({ backend: 'nats-kv', nc: loop.nc }), agent: 'e2e-test' });
  await store.put('config/limits', { maxDeploys: 4 }, { reason: 'first' });
  await store.put('config/limits', { maxDeploys: 5 }, { reason: 'second' });
  const kv = await new Kvm(jetstream(loop.nc)).open(DEFAULT_STATE_BUCKET);
  const version = await kv.get('config.limits.v.1');
  const record = JSON.parse(version!.string()) as { data: { maxDeploys: number } };
  record.data.maxDeploys = 40;
  await kv.put('config.limits.v.1', JSON.stringify(record));

  const chainBreaks = async () => {
    const found: Array<{ dedupKey: string; summary: string }> = [];
    for await (const stored of readStream(loop.nc, { stream: StreamNames.events, fromSeq: 1, subject: 'events.escalation.raised' })) {
      const data = (JSON.parse(new TextDecoder().decode(stored.data)) as { data: { kind: string; dedupKey: string; summary: string } }).data;
      if (data.kind === 'chain-break') found.push(data);
    }
    return found;
  };
  const [first] = await waitFor('a chain-break escalation from the sweep', async () => ((await chainBreaks()).length ? chainBreaks() : undefined), 15_000);
  assert.equal(first!.dedupKey, 'agentbus.chain-break.config_limits.1');
  assert.match(first!.summary, /^hash chain of config\/limits is broken at version 1 \(data-changed\)/);
  await waitFor('two more sweeps', () => loop.logTail(400).split('\n').filter((line) => line.includes('integrity sweep: 1 of')).length >= 3, 15_000);
  assert.equal((await chainBreaks()).length, 1, 'found again, escalated once (the same id inside the duplicate window, the same page after it)');
});

test('a follow-up whose release manifest was tampered with is not run: followup.cancelled (tampered-state) and one chain-break escalation', async (t) => {
  const loop = await startLoop({ registry: { followupOffsetsMs: [2_000] } });
  t.after(() => loop.stop());
  const { taskId } = await requestDeploy(loop.nc, { service: loop.demo.name, ref: DemoBranches.good, requestedBy: 'e2e-test' }, { source: 'e2e-test' });
  await loop.waitForEvent(taskId, 'followup.scheduled');
  const record = { envelope: { number: await loop.tamperHead(`releases/${loop.demo.name}`, (data) => void (data.status = 'rolled-back')) } };

  const cancelled = await loop.waitForEvent(taskId, 'followup.cancelled');
  assert.equal((cancelled.data as { reason: string }).reason, 'tampered-state');
  assert.match((cancelled.data as { detail: string }).detail, new RegExp(`^releases/${loop.demo.name} fails verification: version ${record.envelope.number}'s data was changed after it was written .*; agentbus judges nothing on it$`));
  const events = await loop.events(taskId);
  assert.deepEqual(events.filter((e) => e.type === 'followup.passed' || e.type === 'followup.failed').map((e) => e.type), [], 'nothing judged');
  assert.deepEqual(events.filter((e) => e.type === 'escalation.raised').map((e) => (e.data as { dedupKey: string }).dedupKey), [`agentbus.chain-break.releases_${loop.demo.name}.${record.envelope.number}`]);
});

test('a quarantine and a post-mortem tampered with during an incident: the reverted change is not written onto the tampered quarantine, the post-mortem is written again from the bus; one chain-break escalation each', async (t) => {
  const loop = await startLoop({ registry: { stabilizationMs: 1_500, followupOffsetsMs: [] } });
  t.after(() => loop.stop());
  const service = loop.demo.name;
  const store = new StateStore({ backend: await openStateBackend({ backend: 'nats-kv', nc: loop.nc }), agent: 'e2e-test' });
  await store.put(`quarantine/${service}`, { service, changes: [] }, { reason: 'nothing refused yet' });
  const { taskId } = await requestDeploy(loop.nc, { service, ref: DemoBranches.broken, requestedBy: 'e2e-test' }, { source: 'e2e-test' });
  await loop.waitForEvent(taskId, 'deploy.completed');
  // In the stabilization window, behind the deploy's quarantine check: someone edits the quarantine past the state store.
  const quarantined = await loop.tamperHead(`quarantine/${service}`, (data) => void (data.note = 'cleared by hand'));

  await loop.waitForEvent(taskId, 'rollback.completed');
  await loop.waitForEvent(taskId, 'postmortem.written');
  await loop.waitUntilConsumed();
  assert.equal((await store.history(`quarantine/${service}`)).entries.length, quarantined, 'no version was written on top of the tampered one');
  const chainBreaks = async () => (await loop.events(taskId)).filter((e) => e.type === 'escalation.raised' && (e.data as { kind: string }).kind === 'chain-break').map((e) => (e.data as { dedupKey: string }).dedupKey);
  assert.deepEqual(await chainBreaks(), [`agentbus.chain-break.quarantine_${service}.${quarantined}`]);

  // The post-mortem's head edited (a ticket "already requested", another title): the next trigger writes it again from the bus.
  const path = `postmortems/${taskId}`;
  const { title } = (await store.get(path)).data as { title: string };
  const edited = await loop.tamperHead(path, (data) => Object.assign(data, { title: 'nothing happened', ticketRequestedAt: new Date().toISOString() }));
  await loop.publisher().publish('escalation.resolved', { dedupKey: 'e2e.nudge', service, summary: 'a later event of the incident' }, { correlationId: taskId });
  await waitFor('the post-mortem written again', async () => (await store.history(path)).entries.length > edited, 20_000);
  const head = await store.getVerified(path);
  assert.equal((head.data as { title: string }).title, title, 'rebuilt from the events, not from the edited version');
  await loop.waitUntilConsumed();
  assert.deepEqual((await chainBreaks()).sort(), [`agentbus.chain-break.postmortems_${taskId}.${edited}`, `agentbus.chain-break.quarantine_${service}.${quarantined}`].sort());
});

test('a pages document tampered with to hold a page open is not believed: the escalation it would have silenced pages, and the damage is paged too', async (t) => {
  const receiver = await startWebhookReceiver();
  t.after(() => receiver.close());
  const loop = await startLoop({
    inProcess: ['notifier'],
    sections: () => ({ notifications: { timeoutMs: 2_000, pagerduty: { url: `${receiver.url}/pagerduty`, routingKey: 'r0utingkeye2er0utingkeye2er0utin' } } }),
  });
  t.after(() => loop.stop());
  const service = loop.demo.name;
  const store = new StateStore({ backend: await openStateBackend({ backend: 'nats-kv', nc: loop.nc }), agent: 'e2e-test' });
  await store.put(`pages/${service}`, { service, open: [] }, { reason: 'no pages' });
  const raised = escalation({ kind: 'unattributed-failure', severity: 'critical', service, summary: `${service} is failing and nobody knows why`, details: {}, about: ['e2e-failure'] });
  // Someone writes that very page as already open, past the state store: without the check, it would page nobody ("already open").
  const version = await loop.tamperHead(`pages/${service}`, (data) => {
    data.open = [{ dedupKey: raised.data.dedupKey, kind: 'unattributed-failure', severity: 'critical', summary: 'held open by hand', incidentId: 'x', raisedAt: new Date().toISOString(), escalationId: 'x' }];
  });
  await loop.publisher().publish('escalation.raised', raised.data, { id: raised.id });
  const keys = () => receiver.requests.filter((r) => r.path === '/pagerduty').map((r) => (r.json as { dedup_key: string }).dedup_key);
  await waitFor('both pages', () => keys().length >= 2, 15_000);
  assert.deepEqual(keys().sort(), [raised.data.dedupKey, `agentbus.chain-break.pages_${service}.${version}`].sort());
});
