import { agentbusRegistry, createEnvelope, type AgentbusRegistry, type CheckResult, type DataInput, type EnvelopeOf, type MessageTypeOf } from '@agentbus/contracts';
import type { IncidentEvent } from '@agentbus/incident';

/** Seed 000's incident as events: a merge that broke /health, detected, reverted, healthy again. */

export const INCIDENT = '0196a3c2-1b2c-7d4e-8f90-a1b2c3d4e5f6';
export const MERGE = 'a'.repeat(39) + '1';
export const PREVIOUS = 'b'.repeat(39) + '2';
export const REVERT = 'c'.repeat(39) + '3';
const T0 = Date.parse('2024-05-01T03:52:00.000Z');
export const at = (ms: number) => new Date(T0 + ms);

export function envelope<T extends MessageTypeOf<AgentbusRegistry>>(type: T, data: DataInput<AgentbusRegistry, T>, options: { id: string; ms: number; source?: string; correlationId?: string }): EnvelopeOf<AgentbusRegistry, T> {
  return createEnvelope(agentbusRegistry, type, data, { source: options.source ?? 'tester', id: options.id, time: at(options.ms), correlationId: options.correlationId ?? INCIDENT });
}

export const deployment = { deploymentId: INCIDENT, service: 'primerouter', ref: 'feature/cache', branch: 'master', requestedBy: 'coding-agent' };

export const healthCheck: CheckResult = {
  name: 'health',
  url: 'http://127.0.0.1:9400/health',
  severity: 'fatal',
  ok: true,
  probes: 5,
  failures: 0,
  maxConsecutiveFailures: 0,
  failureThreshold: 3,
  lastStatus: 200,
  expectedStatus: 200,
  latencyP95Ms: 12.4,
  latencyThresholdMs: 500,
  latenciesMs: [10, 11, 12, 12, 12],
  error: null,
};
export const failingCheck: CheckResult = { ...healthCheck, ok: false, failures: 5, maxConsecutiveFailures: 5, lastStatus: 500, latencyP95Ms: 4, error: 'status 500, expected 200' };

const verdict = (checks: CheckResult[], finishedMs: number) => ({
  deploymentId: INCIDENT,
  service: 'primerouter',
  phase: 'post-deploy' as const,
  mergeCommit: MERGE,
  baseline: null,
  checks,
  stabilizationMs: 60_000,
  startedAt: at(5_000).toISOString(),
  finishedAt: at(finishedMs).toISOString(),
  probeTimeoutMs: 0,
  probeWaitMs: 8_000,
});

export const merged = () => envelope('deploy.merged', { ...deployment, mergeCommit: MERGE, previousCommit: PREVIOUS, pushedAt: at(0).toISOString() }, { id: `${INCIDENT}.merged`, ms: 0, source: 'deployer' });
export const completed = () =>
  envelope('deploy.completed', { ...deployment, mergeCommit: MERGE, previousCommit: PREVIOUS, mergedAt: at(0).toISOString(), deployedAt: at(5_000).toISOString(), deployCommandMs: 3_000 }, { id: `${INCIDENT}.completed`, ms: 5_000, source: 'deployer' });
export const healthFailed = () => envelope('health.failed', verdict([failingCheck], 67_000), { id: `${INCIDENT}.health`, ms: 67_000, source: 'health-monitor' });
export const healthPassed = () => envelope('health.passed', verdict([healthCheck, { ...healthCheck, name: 'home-page', url: 'http://127.0.0.1:9400/', severity: 'warning', ok: false, latencyP95Ms: 412, error: 'p95 412 ms over 300 ms' }], 70_000), { id: `${INCIDENT}.health`, ms: 70_000, source: 'health-monitor' });
export const rollbackStarted = () =>
  envelope('rollback.started', { deploymentId: INCIDENT, service: 'primerouter', mergeCommit: MERGE, strategy: 'git-revert', reason: 'health check failed after deploy of feature/cache', failingChecks: ['health'] }, { id: `${INCIDENT}.rollback.started`, ms: 67_200, source: 'rollback' });
export const rollbackCompleted = () =>
  envelope(
    'rollback.completed',
    {
      deploymentId: INCIDENT,
      service: 'primerouter',
      mergeCommit: MERGE,
      strategy: 'git-revert',
      revertCommit: REVERT,
      restoredCommit: REVERT,
      checks: [healthCheck],
      durations: { revertMs: 1_800, redeployMs: 3_000, verifyMs: 3_000, verifyWaitMs: 500, totalMs: 8_000 },
    },
    { id: `${INCIDENT}.rollback.completed`, ms: 75_000, source: 'rollback' },
  );

/** Events as read back from the stream (with their sequence numbers). */
export function stored(...events: Array<EnvelopeOf<AgentbusRegistry, MessageTypeOf<AgentbusRegistry>>>): IncidentEvent[] {
  return events.map((event, index) => ({ ...event, seq: index + 1 }) as IncidentEvent);
}
