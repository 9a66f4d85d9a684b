// End to end: tampered state is never acted on (issue 13, "Tampered state is never acted on"). A
// release manifest whose head was edited after it was written (its data no longer matches its
// hash): the failing deploy it describes is not reverted on its word, one chain-break escalation
// asks a human, and `agentbus state get` refuses to show it as data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kvm } from '@nats-io/kv';
import { jetstream } from '@nats-io/jetstream';
import { DemoBranches } from '@agentbus/demo';
import { requestDeploy } from '@agentbus/platform';
import { DEFAULT_STATE_BUCKET } from '@agentbus/state';
import { runCli } from '@agentbus/testkit';
import { eventOf, startLoop } from './harness.ts';

test('a failing deploy whose release manifest was tampered with is not reverted: rollback.skipped (tampered-state), one chain-break escalation, state get exits 1', async (t) => {
  const loop = await startLoop({ registry: { stabilizationMs: 1_500, followupOffsetsMs: [] } });
  t.after(() => loop.stop());
  const { taskId } = await requestDeploy(loop.nc, { service: loop.demo.name, ref: DemoBranches.broken, requestedBy: 'e2e-test' }, { source: 'e2e-test' });
  const completed = await loop.waitForEvent(taskId, 'deploy.completed');
  const mergeCommit = (completed.data as { mergeCommit: string }).mergeCommit;
  // In the stabilization window: someone edits the manifest's head (and its version record) in the bucket, past the state store.
  const kv = await new Kvm(jetstream(loop.nc)).open(DEFAULT_STATE_BUCKET);
  const key = `releases.${loop.demo.name}`;
  const head = await kv.get(`${key}.head`);
  const record = JSON.parse(head!.string()) as { envelope: { number: number }; data: { ref: string } };
  record.data.ref = 'feature/someone-else';
  await kv.put(`${key}.head`, JSON.stringify(record));
  await kv.put(`${key}.v.${record.envelope.number}`, JSON.stringify(record));

  const skipped = await loop.waitForEvent(taskId, 'rollback.skipped');
  assert.equal((skipped.data as { reason: string }).reason, 'tampered-state');
  assert.match((skipped.data as { detail: string }).detail, new RegExp(`^releases/${loop.demo.name} fails verification: version ${record.envelope.number}'s data was changed after it was written .*; agentbus decides nothing on it$`));
  await loop.waitUntilConsumed();
  const events = await loop.events(taskId);
  assert.equal(eventOf(events, 'rollback.started'), undefined, 'nothing was reverted');
  assert.equal(await loop.originHead(), mergeCommit, 'the merge is still on origin');
  const escalations = events.filter((e) => e.type === 'escalation.raised').map((e) => (e.data as { kind: string; dedupKey: string }));
  assert.deepEqual(escalations.map((e) => [e.kind, e.dedupKey]), [['chain-break', `agentbus.chain-break.releases_${loop.demo.name}.${record.envelope.number}`]], 'one chain-break escalation, as `state verify` raises it');

  const shown = await runCli(['state', 'get', `releases/${loop.demo.name}`], { env: { NATS_URL: loop.natsUrl } });
  assert.equal(shown.code, 1);
  assert.match(shown.stderr, new RegExp(`releases/${loop.demo.name} version ${record.envelope.number} fails verification \\(data-changed\\)`));
  assert.doesNotMatch(shown.stdout, /someone-else/);
});
