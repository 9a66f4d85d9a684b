import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentbusError, agentbusRegistry, createEnvelope } from '@agentbus/contracts';
import { MemoryLeaseManager, runHandler } from '@agentbus/bus/testing';
import { parseFleetConfig } from '@agentbus/fleet';
import { memoryEvidenceStore, memoryFollowupStore } from '@agentbus/health/testing';
import { deployCompletedHandler } from '../src/handlers/deploy-completed.ts';

// A deployment that cannot be judged is never left neither judged nor told: when no verdict will
// come (the error cannot pass, or this was the last delivery) the health monitor raises an
// inconclusive escalation, and keeps the deployment's lease. A judge that may still succeed is
// retried without one; a runner that is stopping leaves it to the redelivery.

const MERGE = 'c'.repeat(40);
const { services } = parseFleetConfig({
  services: [{ name: 'api', git: { path: 'clones/api' }, deploy: { command: ['true'] }, health: { checks: [{ name: 'health', url: 'http://127.0.0.1:9400/health' }] } }],
});

function completed(service: string, withBaseline: boolean) {
  return createEnvelope(
    agentbusRegistry,
    'deploy.completed',
    {
      deploymentId: 'dep-1', service, ref: 'feature/x', requestedBy: 'coder', branch: 'main', mergeCommit: MERGE, previousCommit: 'd'.repeat(40),
      mergedAt: '2026-12-01T10:00:00.000Z', deployedAt: '2026-12-01T10:00:05.000Z', deployCommandMs: 5_000, ...(withBaseline ? { baseline: null } : {}),
    },
    { source: 'test', id: 'completed-1' },
  );
}

const evidenceDown = new AgentbusError('evidence-bucket-missing', 'the health evidence bucket did not answer', { retryable: true });

const rows: Array<{ name: string; service: string; evidenceFails: boolean; delivery: { deliveryCount: number; maxDeliver: number }; stopping?: boolean; outcome: string; summary: string | null }> = [
  {
    name: 'a service the fleet does not know: escalated at once (the error cannot pass)',
    service: 'web',
    evidenceFails: false,
    delivery: { deliveryCount: 1, maxDeliver: 5 },
    outcome: 'dead-lettered',
    summary: 'web: deployment dep-1 (cccccccccccc) could not be judged, so agentbus neither passed nor rolled it back: no service "web" in the fleet configuration',
  },
  { name: 'a transient failure before the last delivery: retried, nothing raised', service: 'api', evidenceFails: true, delivery: { deliveryCount: 4, maxDeliver: 5 }, outcome: 'retry', summary: null },
  {
    name: 'the same failure on the last delivery: escalated',
    service: 'api',
    evidenceFails: true,
    delivery: { deliveryCount: 5, maxDeliver: 5 },
    outcome: 'dead-lettered',
    summary: 'api: deployment dep-1 (cccccccccccc) could not be judged, so agentbus neither passed nor rolled it back: the health evidence bucket did not answer',
  },
  { name: 'the runner is stopping: nothing raised, the redelivery judges it', service: 'api', evidenceFails: true, delivery: { deliveryCount: 5, maxDeliver: 5 }, stopping: true, outcome: 'dead-lettered', summary: null },
];

for (const row of rows) {
  test(row.name, async () => {
    const evidence = memoryEvidenceStore();
    if (row.evidenceFails) evidence.latest = () => Promise.reject(evidenceDown);
    const leases = new MemoryLeaseManager('health-monitor');
    leases.hold('api', 'dep-1', 60_000, 'deployer');
    const deps = { fleet: { services }, evidence, leases, followups: memoryFollowupStore() };
    const run = await runHandler(agentbusRegistry, deployCompletedHandler(deps), completed(row.service, !row.evidenceFails), { delivery: row.delivery, stopping: row.stopping ?? false });
    assert.equal(run.outcome, row.outcome);
    const raised = run.ctx.publishedOf('escalation.raised');
    assert.deepEqual(
      raised.map((e) => ({ id: e.id, dedupKey: e.data.dedupKey, kind: e.data.kind, severity: e.data.severity, summary: e.data.summary, details: e.data.details })),
      row.summary === null
        ? []
        : [{ id: 'escalation.inconclusive.dep-1', dedupKey: 'agentbus.inconclusive.dep-1', kind: 'inconclusive', severity: 'critical', summary: row.summary, details: { deploymentId: 'dep-1', mergeCommit: MERGE, attempts: row.delivery.deliveryCount } }],
    );
    assert.deepEqual(run.ctx.published.filter((e) => e.type !== 'escalation.raised'), [], 'no verdict');
    assert.equal(leases.current('api')?.released, false, 'the deployment keeps its lease');
  });
}
