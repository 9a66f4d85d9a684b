import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentbusError, agentbusRegistry, createEnvelope, RollbackSkipReasons } from '@agentbus/contracts';
import { FakeHandlerContext, MemoryLeaseManager } from '@agentbus/bus/testing';
import { parseFleetConfig } from '@agentbus/fleet';
import { memoryEvidenceStore, memoryFollowupStore } from '@agentbus/health/testing';
import { memoryStateStore } from '@agentbus/state/testing';
import { decideOrEscalate, skipRollback } from '../src/rollback.ts';
import { MERGE } from './fixtures.ts';

// What the rollback agent says when it does not roll back: rollback.skipped for every failure it
// will not act on, an escalation when a person must decide, and the deployment's lease freed;
// and when it cannot even decide, rollback.failed at stage `attribute` and a critical escalation
// once no retry is left. (attribution.test.ts has the decisions themselves.)

const { services } = parseFleetConfig({
  services: [{ name: 'api', git: { path: 'clones/api' }, deploy: { command: ['true'] }, health: { checks: [{ name: 'health', url: 'http://127.0.0.1:9400/health' }] } }],
});
const trigger = createEnvelope(agentbusRegistry, 'escalation.resolved', { dedupKey: 'agentbus.x.1', summary: 'unused' }, { source: 'test', id: 'failed-1' });
const failure = { deploymentId: 'dep-1', service: 'api', mergeCommit: MERGE };

async function setup(options: { delivery?: { deliveryCount: number; maxDeliver: number }; stopping?: boolean } = {}) {
  const leases = new MemoryLeaseManager('rollback');
  leases.hold('api', 'dep-1', 60_000, 'deployer');
  const deps = { fleet: { services }, state: await memoryStateStore(), evidence: memoryEvidenceStore(), followups: memoryFollowupStore(), leases, leaseWaitMs: 0 };
  return { ctx: new FakeHandlerContext(agentbusRegistry, trigger, options), deps, leases };
}

const lines = (ctx: FakeHandlerContext<typeof agentbusRegistry>) =>
  ctx.published.map((e) => {
    if (e.type === 'rollback.skipped') return `${e.id} ${e.data.reason}: ${e.data.detail}`;
    if (e.type === 'escalation.raised') return `${e.id} ${e.data.dedupKey} ${e.data.kind}/${e.data.severity}: ${e.data.summary}`;
    if (e.type === 'rollback.failed') return `${e.id} ${e.data.stage} ${e.data.strategy}: ${e.data.error}`;
    return e.type;
  });

describe('skipRollback', () => {
  for (const reason of RollbackSkipReasons) {
    const escalate = reason !== 'already-rolled-back';
    test(`${reason}${escalate ? ': skipped and escalated' : ': skipped, nobody asked'}; the lease freed`, async () => {
      const { ctx, deps, leases } = await setup();
      await skipRollback(ctx, deps, failure, { attributed: false, reason, detail: `why ${reason}`, escalate }, 'failed-1');
      assert.deepEqual(lines(ctx), [
        `failed-1.rollback.skipped ${reason}: why ${reason}`,
        ...(escalate ? [`escalation.unattributed-failure.failed-1 agentbus.unattributed-failure.dep-1 unattributed-failure/error: api is failing, but agentbus will not roll back on its own (${reason}): why ${reason}`] : []),
      ]);
      assert.equal(leases.current('api')?.released, true);
    });
  }

  test('a skip for a deployment that no longer holds the lease leaves the holder’s lease alone', async () => {
    const { ctx, deps, leases } = await setup();
    await skipRollback(ctx, deps, { ...failure, deploymentId: 'dep-0' }, { attributed: false, reason: 'not-latest-deployment', detail: 'newer', escalate: true }, 'failed-0');
    assert.deepEqual([leases.current('api')?.owner, leases.current('api')?.released], ['dep-1', false]);
  });
});

describe('decideOrEscalate: a decision that throws', () => {
  const transient = new Error('the remote did not answer');
  const permanent = new AgentbusError('state-integrity', 'the release manifest does not parse', { retryable: false });
  const told = [
    'dep-1.rollback.failed attribute git-revert: the remote did not answer',
    'escalation.rollback-failed.dep-1 agentbus.rollback-failed.dep-1 rollback-failed/critical: api: deployment dep-1 failed its checks, but agentbus could not decide whether to roll it back: the remote did not answer',
  ];
  const rows: Array<{ name: string; error: Error; delivery: { deliveryCount: number; maxDeliver: number }; stopping?: boolean; mergeCommit?: boolean; expected: string[] }> = [
    { name: 'a transient error with retries left: rethrown, nothing told', error: transient, delivery: { deliveryCount: 1, maxDeliver: 5 }, expected: [] },
    { name: 'a transient error on the last delivery: rollback.failed at attribute and an escalation', error: transient, delivery: { deliveryCount: 5, maxDeliver: 5 }, expected: told },
    {
      name: 'an error that cannot pass: told at once',
      error: permanent,
      delivery: { deliveryCount: 1, maxDeliver: 5 },
      expected: [
        'dep-1.rollback.failed attribute git-revert: the release manifest does not parse',
        'escalation.rollback-failed.dep-1 agentbus.rollback-failed.dep-1 rollback-failed/critical: api: deployment dep-1 failed its checks, but agentbus could not decide whether to roll it back: the release manifest does not parse',
      ],
    },
    { name: 'without a merge commit: the escalation only', error: transient, delivery: { deliveryCount: 5, maxDeliver: 5 }, mergeCommit: false, expected: told.slice(1) },
    { name: 'the runner is stopping: nothing told, the redelivery decides', error: transient, delivery: { deliveryCount: 5, maxDeliver: 5 }, stopping: true, expected: [] },
  ];
  for (const row of rows) {
    test(row.name, async () => {
      const { ctx, deps } = await setup({ delivery: row.delivery, stopping: row.stopping ?? false });
      const target = row.mergeCommit === false ? { deploymentId: 'dep-1', service: 'api' } : failure;
      await assert.rejects(decideOrEscalate(ctx, target, deps, () => Promise.reject(row.error)), (error) => error === row.error);
      assert.deepEqual(lines(ctx), row.expected);
    });
  }

  test('a decision that succeeds is returned and tells nothing', async () => {
    const { ctx, deps } = await setup();
    assert.equal(await decideOrEscalate(ctx, failure, deps, () => Promise.resolve('decided')), 'decided');
    assert.deepEqual(ctx.published, []);
  });
});
