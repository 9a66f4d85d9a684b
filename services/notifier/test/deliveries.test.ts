import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { agentbusRegistry, createEnvelope, type AgentbusRegistry, type AnyEnvelopeOf, type DataInput, type MessageTypeOf } from '@agentbus/contracts';
import { FakeHandlerContext } from '@agentbus/bus/testing';
import { parseFleetConfig } from '@agentbus/fleet';
import { memoryStateStore } from '@agentbus/state/testing';
import type { NotifierDeps } from '../src/announce.ts';
import { escalationRaisedHandler } from '../src/handlers/escalation-raised.ts';
import { escalationResolvedHandler } from '../src/handlers/escalation-resolved.ts';
import { incidentUpdateHandler } from '../src/handlers/incident-update.ts';
import { serviceVerifiedHandler } from '../src/handlers/service-verified.ts';
import { OpenPages } from '../src/open-pages.ts';
import { resolveTargets } from '../src/targets.ts';

// What the notifier asks to send for each event, as one line per message it publishes: the
// channel and target of a delivery with its summary (the chat title, the page), or the
// escalation.resolved it announces. paging.int and delivery.int show the deliveries go out over
// NATS and HTTP; @agentbus/notify's chat tests show each message's full body.

const MERGE = 'a'.repeat(40);
const REVERT = 'b'.repeat(40);
const INCIDENT = 'incident-1';

const { notifications } = parseFleetConfig({
  services: [{ name: 'api', git: { path: 'clones/api' }, deploy: { command: ['true'] }, health: { checks: [{ name: 'health', url: 'http://127.0.0.1:9400/health' }] } }],
  notifications: { pagerduty: { routingKey: 'R'.repeat(32) }, chat: [{ name: 'ops', url: 'https://hooks.example/ops', format: 'slack' }] },
});
const targets = resolveTargets(notifications, {});

async function notifier() {
  const deps: NotifierDeps = { targets, pages: new OpenPages(await memoryStateStore({}, { agent: 'notifier' })), incidentEvents: () => Promise.resolve([]) };
  const handlers = {
    'escalation.raised': escalationRaisedHandler(deps),
    'escalation.resolved': escalationResolvedHandler(deps),
    'health.passed': serviceVerifiedHandler(deps),
    'rollback.completed': serviceVerifiedHandler(deps),
    'health.recovered': serviceVerifiedHandler(deps),
    'deploy.failed': incidentUpdateHandler(deps),
    'rollback.failed': incidentUpdateHandler(deps),
    'rollback.skipped': incidentUpdateHandler(deps),
  };
  let seconds = 0;
  /** Handles one event as the notifier's consumer would and returns what it published, one line each. */
  return async function handle<T extends keyof typeof handlers & MessageTypeOf<AgentbusRegistry>>(type: T, data: DataInput<AgentbusRegistry, T>): Promise<string[]> {
    seconds += 10;
    const event = createEnvelope(agentbusRegistry, type, data, { source: 'test', correlationId: INCIDENT, time: new Date(Date.UTC(2026, 11, 1, 10, 0, seconds)) }) as AnyEnvelopeOf<AgentbusRegistry>;
    const ctx = new FakeHandlerContext(agentbusRegistry, event, { delivery: { streamSeq: seconds } });
    await (handlers[type] as (e: AnyEnvelopeOf<AgentbusRegistry>, c: typeof ctx) => Promise<void>)(event, ctx);
    return ctx.published.map((message) => {
      if (message.type === 'notifier.deliver') return `${message.data.channel} ${message.data.target}: ${message.data.summary}`;
      if (message.type === 'escalation.resolved') return `resolved ${message.data.dedupKey}: ${message.data.summary}`;
      return message.type;
    });
  };
}

const check = { name: 'health', url: 'http://127.0.0.1:9400/health', severity: 'fatal' as const, ok: true, probes: 3, failures: 0, maxConsecutiveFailures: 0, failureThreshold: 3, lastStatus: 200, expectedStatus: 200, latencyP95Ms: 4, latencyThresholdMs: null, latenciesMs: [3, 4, 4], error: null };
const verdict = { deploymentId: 'dep-1', service: 'api', mergeCommit: MERGE, baseline: null, checks: [check], stabilizationMs: 30_000, startedAt: '2026-12-01T10:00:00.000Z', finishedAt: '2026-12-01T10:00:40.000Z', probeTimeoutMs: 0, probeWaitMs: 0 };
const rollbackTarget = { deploymentId: 'dep-1', service: 'api', mergeCommit: MERGE, strategy: 'git-revert' as const };
const escalation = (kind: DataInput<AgentbusRegistry, 'escalation.raised'>['kind'], service: string | null = 'api') => ({
  dedupKey: `agentbus.${kind}.dep-1`,
  kind,
  severity: 'critical' as const,
  ...(service ? { service } : {}),
  summary: `${service ?? 'agentbus'}: ${kind} summary`,
  details: {},
});

describe('one event, what the notifier sends', () => {
  const rows: Array<{ name: string; run: (handle: Awaited<ReturnType<typeof notifier>>) => Promise<string[]>; expected: string[] }> = [
    {
      name: 'escalation unattributed-failure: a page; chat heard it from rollback.skipped',
      run: (handle) => handle('escalation.raised', escalation('unattributed-failure')),
      expected: ['pagerduty pagerduty: page: api: unattributed-failure summary'],
    },
    {
      name: 'escalation rollback-failed: a page; chat heard it from rollback.failed',
      run: (handle) => handle('escalation.raised', escalation('rollback-failed')),
      expected: ['pagerduty pagerduty: page: api: rollback-failed summary'],
    },
    {
      name: 'escalation lease-conflict: a page and a chat message',
      run: (handle) => handle('escalation.raised', escalation('lease-conflict')),
      expected: ['pagerduty pagerduty: page: api: lease-conflict summary', 'chat ops: chat: api: two agents claim the service; a human must decide'],
    },
    {
      name: 'escalation chain-break (no service): a page and a chat message',
      run: (handle) => handle('escalation.raised', escalation('chain-break', null)),
      expected: ['pagerduty pagerduty: page: agentbus: chain-break summary', 'chat ops: chat: agentbus: a state history does not verify; a human must decide'],
    },
    {
      name: 'escalation prolonged-unhealthy: a page and a chat message',
      run: (handle) => handle('escalation.raised', escalation('prolonged-unhealthy')),
      expected: ['pagerduty pagerduty: page: api: prolonged-unhealthy summary', 'chat ops: chat: api: unhealthy for too long; a human must decide'],
    },
    {
      name: 'escalation inconclusive: a page and a chat message',
      run: (handle) => handle('escalation.raised', escalation('inconclusive')),
      expected: ['pagerduty pagerduty: page: api: inconclusive summary', 'chat ops: chat: api: a deployment could not be judged; a human must decide'],
    },
    {
      name: 'the same escalation raised twice pages once',
      run: async (handle) => [...(await handle('escalation.raised', escalation('inconclusive'))), ...(await handle('escalation.raised', escalation('inconclusive')))],
      expected: ['pagerduty pagerduty: page: api: inconclusive summary', 'chat ops: chat: api: a deployment could not be judged; a human must decide'],
    },
    {
      name: 'escalation.resolved: the page resolved and a chat message',
      run: (handle) => handle('escalation.resolved', { dedupKey: 'agentbus.lease-conflict.dep-1', service: 'api', summary: 'api: the lease is released' }),
      expected: ['pagerduty pagerduty: resolve: api: the lease is released', 'chat ops: chat: api: escalation resolved'],
    },
    {
      name: 'deploy.failed: a chat message',
      run: (handle) => handle('deploy.failed', { deploymentId: 'dep-1', service: 'api', ref: 'feature/x', requestedBy: 'coder', branch: 'main', stage: 'push', error: 'rejected', pushed: false }),
      expected: ['chat ops: chat: api: deploy of feature/x failed at push'],
    },
    {
      name: 'rollback.failed: a chat message',
      run: (handle) => handle('rollback.failed', { ...rollbackTarget, stage: 'redeploy', error: 'deploy command exited 1', revertCommit: REVERT }),
      expected: ['chat ops: chat: api: rollback of aaaaaaaaaaaa failed at redeploy'],
    },
    {
      name: 'rollback.skipped: a chat message',
      run: (handle) => handle('rollback.skipped', { deploymentId: 'dep-1', service: 'api', mergeCommit: MERGE, reason: 'baseline-unhealthy', detail: 'api was already unhealthy' }),
      expected: ['chat ops: chat: api: not rolled back (baseline-unhealthy)'],
    },
    {
      name: 'rollback.skipped already-rolled-back: nothing (its rollback told the incident already)',
      run: (handle) => handle('rollback.skipped', { deploymentId: 'dep-1', service: 'api', mergeCommit: MERGE, reason: 'already-rolled-back', detail: 'rolled back before' }),
      expected: [],
    },
    {
      name: 'health.passed after a deploy: a chat message',
      run: (handle) => handle('health.passed', { ...verdict, phase: 'post-deploy' }),
      expected: ['chat ops: chat: api: aaaaaaaaaaaa deployed and healthy'],
    },
    {
      name: 'health.passed after a rollback: nothing (rollback.completed tells it)',
      run: (handle) => handle('health.passed', { ...verdict, phase: 'post-rollback' }),
      expected: [],
    },
    {
      name: 'rollback.completed: a chat message',
      run: (handle) =>
        handle('rollback.completed', { ...rollbackTarget, revertCommit: REVERT, restoredCommit: REVERT, checks: [check], durations: { revertMs: 4_000, redeployMs: 2_000, verifyMs: 1_000, verifyWaitMs: 500, totalMs: 90_000 } }),
      expected: ['chat ops: chat: api: rolled back aaaaaaaaaaaa; healthy again'],
    },
    {
      name: 'health.recovered without a page: nothing',
      run: (handle) => handle('health.recovered', { service: 'api', unhealthySince: '2026-12-01T09:58:00.000Z', recoveredAt: '2026-12-01T10:00:00.000Z', unhealthyMs: 120_000 }),
      expected: [],
    },
  ];

  for (const row of rows) {
    test(row.name, async () => {
      assert.deepEqual(await row.run(await notifier()), row.expected);
    });
  }
});

describe('a healthy service ends its pages, saying how it was verified', () => {
  const rows: Array<{ name: string; verified: (handle: Awaited<ReturnType<typeof notifier>>) => Promise<string[]>; expected: string[] }> = [
    {
      name: 'health.passed after a deploy',
      verified: (handle) => handle('health.passed', { ...verdict, deploymentId: 'dep-2', phase: 'post-deploy' }),
      expected: ['chat ops: chat: api: aaaaaaaaaaaa deployed and healthy', 'resolved agentbus.prolonged-unhealthy.dep-1: api is verified healthy: its health checks passed (post-deploy of deployment dep-2)'],
    },
    {
      name: 'health.passed after a rollback',
      verified: (handle) => handle('health.passed', { ...verdict, phase: 'post-rollback' }),
      expected: ['resolved agentbus.prolonged-unhealthy.dep-1: api is verified healthy: its health checks passed (post-rollback of deployment dep-1)'],
    },
    {
      name: 'rollback.completed',
      verified: (handle) =>
        handle('rollback.completed', { ...rollbackTarget, revertCommit: REVERT, restoredCommit: REVERT, checks: [check], durations: { revertMs: 4_000, redeployMs: 2_000, verifyMs: 1_000, verifyWaitMs: 500, totalMs: 90_000 } }),
      expected: ['chat ops: chat: api: rolled back aaaaaaaaaaaa; healthy again', 'resolved agentbus.prolonged-unhealthy.dep-1: api is verified healthy: rolled back aaaaaaaaaaaa and re-probed healthy'],
    },
    {
      name: 'health.recovered',
      verified: (handle) => handle('health.recovered', { service: 'api', unhealthySince: '2026-12-01T09:58:00.000Z', recoveredAt: '2026-12-01T10:00:00.000Z', unhealthyMs: 90_000 }),
      expected: ['resolved agentbus.prolonged-unhealthy.dep-1: api is verified healthy: healthy again after 1 min 30 s unhealthy'],
    },
  ];
  for (const row of rows) {
    test(row.name, async () => {
      const handle = await notifier();
      await handle('escalation.raised', escalation('prolonged-unhealthy'));
      assert.deepEqual(await row.verified(handle), row.expected);
    });
  }

  test('an escalation that does not end with health (lease-conflict) stays open', async () => {
    const handle = await notifier();
    await handle('escalation.raised', escalation('lease-conflict'));
    assert.deepEqual(await handle('health.recovered', { service: 'api', unhealthySince: '2026-12-01T09:58:00.000Z', recoveredAt: '2026-12-01T10:00:00.000Z', unhealthyMs: 90_000 }), []);
  });
});
