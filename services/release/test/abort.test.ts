import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentbusRegistry, createEnvelope } from '@agentbus/contracts';
import { runHandler } from '@agentbus/bus/testing';
import { StateIntegrityError, type StateStore } from '@agentbus/state';
import { releaseAbortHandler } from '../src/handlers/abort.ts';

test('an abort whose release run record fails verification is asked for all the same (not "it has ended" on tampered data), and the damage is escalated', async () => {
  const tampered = {
    getVerified: () => Promise.reject(new StateIntegrityError('release-runs/r1 fails verification: version 3\'s data was changed after it was written', 'run agentbus state verify', { path: 'release-runs/r1', number: 3, reason: 'data-changed' })),
  } as unknown as StateStore;
  const task = createEnvelope(agentbusRegistry, 'release.abort', { releaseId: 'r1', rollback: false, requestedBy: 'ops' }, { source: 'agentbus-cli' });
  const run = await runHandler(agentbusRegistry, releaseAbortHandler({ state: tampered }), task);
  assert.equal(run.outcome, 'acked');
  assert.deepEqual(run.ctx.published.map((e) => e.type), ['escalation.raised', 'release.abort-requested']);
  const raised = run.ctx.published[0]!.data as { kind: string; dedupKey: string };
  assert.deepEqual([raised.kind, raised.dedupKey], ['chain-break', 'agentbus.chain-break.release-runs_r1.3']);
});
