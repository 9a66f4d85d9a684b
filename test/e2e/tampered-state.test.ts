// End to end: tampered state is never acted on (issue 13, "Tampered state is never acted on"). A
// release manifest whose head was edited after it was written (its data no longer matches its
// hash): the failing deploy it describes is not reverted on its word, one chain-break escalation
// asks a human, and `agentbus state get` refuses to show it as data. The periodic integrity sweep
// finds a tampered document by itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kvm } from '@nats-io/kv';
import { jetstream } from '@nats-io/jetstream';
import { DemoBranches } from '@agentbus/demo';
import { requestDeploy } from '@agentbus/platform';
import { readStream } from '@agentbus/bus';
import { StreamNames } from '@agentbus/contracts';
import { DEFAULT_STATE_BUCKET, openStateBackend, StateStore } from '@agentbus/state';
import { runCli, waitFor } from '@agentbus/testkit';
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
