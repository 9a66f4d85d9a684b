import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { agentbusRegistry, createEnvelope, type CheckResult } from '@agentbus/contracts';
import { FakeHandlerContext } from '@agentbus/bus/testing';
import type { Evidence, Outage } from '@agentbus/health';
import { memoryEvidenceStore } from '@agentbus/health/testing';
import { trackOutage } from '../src/handlers/health-watch.ts';

// The watch's decisions on each sample: an outage starts with the first unhealthy sample, is
// escalated once (prolonged-unhealthy) when it has lasted `unhealthyAfterMs`, and ends with the
// first healthy sample (health.recovered). The e2e tests show a real outage paged and resolved.

const NOW = Date.parse('2026-12-01T10:00:00.000Z');
const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

function sample(healthy: boolean, checkedAt: number): Evidence {
  const check = (name: string, ok: boolean, severity: 'fatal' | 'warning' = 'fatal'): CheckResult => ({
    name, url: `http://127.0.0.1:9400/${name}`, severity, ok, probes: 2, failures: ok ? 0 : 2, maxConsecutiveFailures: ok ? 0 : 2, failureThreshold: 2,
    lastStatus: ok ? 200 : null, expectedStatus: 200, latencyP95Ms: ok ? 3 : null, latencyThresholdMs: null, latenciesMs: [3, 3], error: ok ? null : 'connection refused',
  });
  return { healthy, checkedAt: iso(checkedAt), finishedAt: iso(checkedAt + 100), source: 'watch', checks: [check('health', healthy), check('ready', healthy, 'warning'), check('db', true)] };
}

const outageSince = (ms: number, escalated = false): Outage => ({ since: iso(ms), incidentId: `outage-api-${ms}`, escalated });

type Row = { name: string; outage?: Outage; sample: Evidence; unhealthyAfterMs?: number; published: unknown[]; after: Outage | undefined };

const rows: Row[] = [
  { name: 'healthy, no outage: nothing', sample: sample(true, NOW - 1_000), published: [], after: undefined },
  { name: 'the first unhealthy sample starts the outage, at the sample’s time', sample: sample(false, NOW - 1_000), published: [], after: outageSince(NOW - 1_000) },
  { name: 'unhealthy for less than the threshold: nothing more', outage: outageSince(NOW - 4 * MIN), sample: sample(false, NOW - 1_000), published: [], after: outageSince(NOW - 4 * MIN) },
  {
    name: 'unhealthy for the threshold: one prolonged-unhealthy escalation, in the outage’s incident',
    // Found by this table: trackOutage set `escalated` on the outage it read and compared it with
    // itself, so the flag was never stored and every later sample escalated again.
    outage: outageSince(NOW - 5 * MIN),
    sample: sample(false, NOW - 1_000),
    published: [
      {
        type: 'escalation.raised',
        id: `escalation.prolonged-unhealthy.api.${NOW - 5 * MIN}`,
        correlationId: `outage-api-${NOW - 5 * MIN}`,
        data: {
          dedupKey: `agentbus.prolonged-unhealthy.api.${NOW - 5 * MIN}`,
          kind: 'prolonged-unhealthy',
          severity: 'critical',
          service: 'api',
          summary: 'api has been unhealthy for 5 min 00 s (since 2026-12-01T09:55:00.000Z): health: connection refused',
          details: { since: '2026-12-01T09:55:00.000Z', unhealthyMs: 5 * MIN, thresholdMs: 5 * MIN, failingChecks: ['health'] },
        },
      },
    ],
    after: outageSince(NOW - 5 * MIN, true),
  },
  { name: 'escalated already: no second escalation', outage: outageSince(NOW - 30 * MIN, true), sample: sample(false, NOW - 1_000), published: [], after: outageSince(NOW - 30 * MIN, true) },
  {
    name: 'a threshold of 0 escalates the first unhealthy sample',
    sample: sample(false, NOW),
    unhealthyAfterMs: 0,
    published: [
      {
        type: 'escalation.raised',
        id: `escalation.prolonged-unhealthy.api.${NOW}`,
        correlationId: `outage-api-${NOW}`,
        data: {
          dedupKey: `agentbus.prolonged-unhealthy.api.${NOW}`,
          kind: 'prolonged-unhealthy',
          severity: 'critical',
          service: 'api',
          summary: 'api has been unhealthy for 0 ms (since 2026-12-01T10:00:00.000Z): health: connection refused',
          details: { since: '2026-12-01T10:00:00.000Z', unhealthyMs: 0, thresholdMs: 0, failingChecks: ['health'] },
        },
      },
    ],
    after: outageSince(NOW, true),
  },
  {
    name: 'the first healthy sample ends the outage: health.recovered, how long it lasted up to that sample',
    outage: outageSince(NOW - 3 * MIN, true),
    sample: sample(true, NOW - 10_000),
    published: [
      {
        type: 'health.recovered',
        id: `health.recovered.api.${NOW - 3 * MIN}`,
        correlationId: `outage-api-${NOW - 3 * MIN}`,
        data: { service: 'api', unhealthySince: '2026-12-01T09:57:00.000Z', recoveredAt: '2026-12-01T09:59:50.000Z', unhealthyMs: 3 * MIN - 10_000 },
      },
    ],
    after: undefined,
  },
];

describe('trackOutage: one watch sample', () => {
  beforeEach(() => mock.timers.enable({ apis: ['Date'], now: NOW }));
  afterEach(() => mock.timers.reset());

  for (const row of rows) {
    test(row.name, async () => {
      const evidence = memoryEvidenceStore();
      if (row.outage) await evidence.setOutage('api', row.outage);
      const timer = createEnvelope(agentbusRegistry, 'schedule.health-watch', {}, { source: 'test' });
      const ctx = new FakeHandlerContext(agentbusRegistry, timer);
      await trackOutage('api', row.sample, { evidence, unhealthyAfterMs: row.unhealthyAfterMs ?? 5 * MIN }, ctx);
      assert.deepEqual(ctx.published.map(({ type, id, correlationId, data }) => ({ type, id, correlationId, data })), row.published);
      assert.deepEqual(await evidence.outage('api'), row.after);
    });
  }
});
