import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deploymentLeaseMs, parseFleetConfig, rollbackLeaseMs, type FleetServiceInput } from '@agentbus/fleet';

function serviceOf(input: Partial<FleetServiceInput>) {
  const config = parseFleetConfig({
    services: [
      {
        name: 'api',
        git: { path: 'clones/api', timeoutMs: 10_000 },
        deploy: { command: ['node', 'deploy.mjs'], timeoutMs: 120_000 },
        health: { checks: [{ name: 'health', url: 'http://127.0.0.1:8080/health', timeoutMs: 2_000 }, { name: 'slow', url: 'http://127.0.0.1:8080/slow', timeoutMs: 7_000 }], stabilizationMs: 60_000, probes: 5, probeIntervalMs: 3_000 },
        rollback: { healthyWithinMs: 90_000 },
        ...input,
      },
    ],
  });
  return config.services[0]!;
}

test('rollbackLeaseMs: four git steps, the deploy command, the wait until healthy and a minute of margin', () => {
  assert.equal(rollbackLeaseMs(serviceOf({})), 4 * 10_000 + 120_000 + 90_000 + 60_000);
});

test('deploymentLeaseMs: the deploy, the verdict (stabilization, then each probe at its slowest check) and a whole rollback', () => {
  const service = serviceOf({});
  const verifyMs = 60_000 + 5 * (3_000 + 7_000);
  assert.equal(deploymentLeaseMs(service), 120_000 + 4 * 10_000 + verifyMs + rollbackLeaseMs(service));
  assert.ok(deploymentLeaseMs(service) > rollbackLeaseMs(service), 'a deployment outlasts the rollback it may hand over to');
});

test('deploymentLeaseMs: a check without a time-out counts 5 s; longer settings give a longer lease', () => {
  const defaults = serviceOf({ health: { checks: [{ name: 'health', url: 'http://127.0.0.1:8080/health' }], stabilizationMs: 0, probes: 3, probeIntervalMs: 0 } });
  assert.equal(deploymentLeaseMs(defaults) - rollbackLeaseMs(defaults), 120_000 + 40_000 + 3 * 5_000);
  assert.ok(deploymentLeaseMs(serviceOf({ git: { path: 'clones/api', timeoutMs: 20_000 } })) > deploymentLeaseMs(serviceOf({})));
});
