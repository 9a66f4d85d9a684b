import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentbusRegistry, createEnvelope } from '@agentbus/contracts';
import { FakeHandlerContext, MemoryLeaseManager } from '@agentbus/bus/testing';
import { parseFleetConfig, type FleetServiceInput } from '@agentbus/fleet';
import { memoryEvidenceStore, memoryFollowupStore } from '@agentbus/health/testing';
import { memoryStateStore } from '@agentbus/state/testing';
import { rollBack } from '../src/rollback.ts';
import { deployedManifest, MERGE } from './fixtures.ts';

// How long a rollback holds its service when it takes the lease again (the deployment's own ran
// out): 4 git steps, the deploy command, the wait until healthy, and a minute of margin. The
// lease is busy (another deployment), so the rollback stops there and is retried: no git runs.

const manifest = deployedManifest;

async function leaseAskedFor(overrides: Partial<FleetServiceInput> = {}): Promise<number> {
  const [service] = parseFleetConfig({
    services: [{ name: 'api', git: { path: 'clones/api' }, deploy: { command: ['node', 'deploy.mjs'] }, health: { checks: [{ name: 'health', url: 'http://127.0.0.1:9400/health' }] }, ...overrides }],
  }).services;
  const leases = new MemoryLeaseManager('rollback');
  leases.hold('api', 'dep-2', 60_000);
  const trigger = createEnvelope(agentbusRegistry, 'health.failed', {
    deploymentId: 'dep-1', service: 'api', phase: 'post-deploy', mergeCommit: MERGE, baseline: null, checks: [], stabilizationMs: 0,
    startedAt: '2026-12-01T10:01:00.000Z', finishedAt: '2026-12-01T10:01:10.000Z', probeTimeoutMs: 0, probeWaitMs: 0,
  }, { source: 'test', id: 'failed-1' });
  const ctx = new FakeHandlerContext(agentbusRegistry, trigger);
  const deps = { fleet: { services: [service!] }, state: await memoryStateStore(), evidence: memoryEvidenceStore(), followups: memoryFollowupStore(), leases, leaseWaitMs: 0 };
  await assert.rejects(rollBack(ctx, deps, service!, { attributed: true, manifest, failingChecks: ['health'], reason: 'health failed' }, { id: trigger.id, detectedAt: Date.parse(trigger.time) }), { code: 'lease-busy' });
  assert.deepEqual(ctx.published.map((e) => e.type), ['rollback.started'], 'the rollback is announced, then waits for the lease');
  assert.deepEqual(leases.attempts.map((a) => [a.resource, a.owner]), [['api', 'dep-1']], 'the lease is the service’s, owned by the deployment');
  return leases.attempts[0]!.ttlMs;
}

const rows: Array<{ name: string; service: Partial<FleetServiceInput>; ms: number }> = [
  { name: 'the defaults', service: {}, ms: 4 * 60_000 + 300_000 + 60_000 + 60_000 },
  {
    name: 'every setting given (the verdict settings do not count)',
    service: {
      git: { path: 'clones/api', timeoutMs: 10_000 },
      deploy: { command: ['node', 'deploy.mjs'], timeoutMs: 120_000 },
      health: { checks: [{ name: 'health', url: 'http://127.0.0.1:9400/health', timeoutMs: 9_000 }], stabilizationMs: 90_000, probes: 9, probeIntervalMs: 3_000 },
      rollback: { healthyWithinMs: 90_000 },
    },
    ms: 4 * 10_000 + 120_000 + 90_000 + 60_000,
  },
];

for (const row of rows) {
  test(`rollback lease: ${row.name}`, async () => {
    assert.equal(await leaseAskedFor(row.service), row.ms);
  });
}
