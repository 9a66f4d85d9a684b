import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentbusRegistry, createEnvelope } from '@agentbus/contracts';
import { MemoryLeaseManager, runHandler } from '@agentbus/bus/testing';
import { parseFleetConfig, type FleetServiceInput } from '@agentbus/fleet';
import { memoryEvidenceStore } from '@agentbus/health/testing';
import { memoryStateStore } from '@agentbus/state/testing';
import { deployHandler } from '../src/handlers/deploy.ts';

// How long a deployment holds its service, as the deployer asks for it: the deploy (4 git steps
// and the deploy command), the verdict (stabilization, then each probe round at the slowest
// check's time-out), a whole rollback (4 git steps, the deploy command, the wait until healthy)
// and a minute of margin. The lease is busy (another deployment), so the deploy stops there and
// is retried: nothing else runs (no git, no command).

function service(overrides: Partial<FleetServiceInput> = {}) {
  const [parsed] = parseFleetConfig({
    services: [{ name: 'api', git: { path: 'clones/api' }, deploy: { command: ['node', 'deploy.mjs'] }, health: { checks: [{ name: 'health', url: 'http://127.0.0.1:9400/health' }] }, ...overrides }],
  }).services;
  return parsed!;
}

/** The ttlMs the deployer asks for when it takes the lease of `overrides`' service. */
async function leaseAskedFor(overrides: Partial<FleetServiceInput> = {}): Promise<number> {
  const leases = new MemoryLeaseManager('deployer');
  leases.hold('api', 'another-deployment', 60_000);
  const handler = deployHandler({ fleet: { services: [service(overrides)] }, state: await memoryStateStore(), evidence: memoryEvidenceStore(), leases, leaseWaitMs: 0 });
  const task = createEnvelope(agentbusRegistry, 'deployer.deploy', { service: 'api', ref: 'feature/x', requestedBy: 'coder' }, { source: 'test', id: 'dep-1' });
  const run = await runHandler(agentbusRegistry, handler, task);
  assert.equal(run.outcome, 'retry', 'a busy lease is waited out by a retry');
  assert.deepEqual(run.ctx.published, [], 'nothing is announced before the lease is held');
  assert.deepEqual(leases.attempts.map((a) => [a.resource, a.owner]), [['api', 'dep-1']], 'the lease is the service’s, owned by the deployment');
  return leases.attempts[0]!.ttlMs;
}

const rows: Array<{ name: string; service: Partial<FleetServiceInput>; ms: number }> = [
  {
    name: 'the defaults',
    service: {},
    // git 60 s, deploy 300 s, stabilization 60 s, 5 probes 2 s apart at 5 s, healthy within 60 s.
    ms: 300_000 + 4 * 60_000 + (60_000 + 5 * (2_000 + 5_000)) + (4 * 60_000 + 300_000 + 60_000) + 60_000,
  },
  {
    name: 'every setting given',
    service: {
      git: { path: 'clones/api', timeoutMs: 10_000 },
      deploy: { command: ['node', 'deploy.mjs'], timeoutMs: 120_000 },
      health: { checks: [{ name: 'health', url: 'http://127.0.0.1:9400/health', timeoutMs: 2_000 }], stabilizationMs: 60_000, probes: 4, probeIntervalMs: 3_000, consecutiveFailures: 2 },
      rollback: { healthyWithinMs: 90_000 },
    },
    ms: 120_000 + 40_000 + (60_000 + 4 * (3_000 + 2_000)) + (40_000 + 120_000 + 90_000) + 60_000,
  },
  {
    name: 'the slowest check sets the time of a probe round',
    service: {
      git: { path: 'clones/api', timeoutMs: 1_000 },
      deploy: { command: ['node', 'deploy.mjs'], timeoutMs: 1_000 },
      health: {
        checks: [
          { name: 'health', url: 'http://127.0.0.1:9400/health', timeoutMs: 1_000 },
          { name: 'slow', url: 'http://127.0.0.1:9400/slow', timeoutMs: 9_000, severity: 'warning' },
        ],
        stabilizationMs: 0,
        probes: 3,
        probeIntervalMs: 0,
      },
      rollback: { healthyWithinMs: 1_000 },
    },
    ms: 1_000 + 4_000 + 3 * 9_000 + (4_000 + 1_000 + 1_000) + 60_000,
  },
];

for (const row of rows) {
  test(`deployment lease: ${row.name}`, async () => {
    assert.equal(await leaseAskedFor(row.service), row.ms);
  });
}

test('deployment lease: how much each setting adds', async () => {
  const base = await leaseAskedFor();
  const longer: Array<[string, Partial<FleetServiceInput>, number]> = [
    ['git time-out +1 s (8 git steps)', { git: { path: 'clones/api', timeoutMs: 61_000 } }, 8_000],
    ['deploy time-out +1 s (deploy and rollback)', { deploy: { command: ['node', 'deploy.mjs'], timeoutMs: 301_000 } }, 2_000],
    ['healthy within +1 s', { rollback: { healthyWithinMs: 61_000 } }, 1_000],
    ['one more probe', { health: { checks: [{ name: 'health', url: 'http://127.0.0.1:9400/health' }], probes: 6 } }, 7_000],
    ['a longer stabilization', { health: { checks: [{ name: 'health', url: 'http://127.0.0.1:9400/health' }], stabilizationMs: 61_000 } }, 1_000],
  ];
  for (const [name, overrides, more] of longer) assert.equal((await leaseAskedFor(overrides)) - base, more, name);
});
