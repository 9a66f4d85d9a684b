import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compileChecks, judgeRun, percentile, type HealthCheckInput, type ProbeResult } from '@agentbus/health';

// The decision tables of a health verdict: from each check's probes (no HTTP here; health.int
// tests show real probes give these results) to passed, failed or warned, the reasons in words,
// and whether the run is healthy. p95 is nearest-rank over the probes that got an answer.

/** One probe, written as `200@12` (an answer, its status and latency), `refused` (no answer) or `timeout@5000`. */
function probe(spec: string, index: number): ProbeResult {
  const [what = '', latency = '3'] = spec.split('@');
  const latencyMs = Number(latency);
  const base = { check: 'health', url: 'http://127.0.0.1:9400/health', latencyMs, at: new Date(Date.UTC(2026, 11, 1, 10, 0, index)).toISOString() };
  if (what === 'refused') return { ...base, ok: false, status: null, timedOut: false, error: { kind: 'connection-refused', message: 'connection refused: nothing listens on 127.0.0.1:9400' } };
  if (what === 'timeout') return { ...base, ok: false, status: null, timedOut: true, error: { kind: 'timeout', message: `no answer within ${latencyMs} ms` } };
  const status = Number(what);
  if (status === 200) return { ...base, ok: true, status, timedOut: false, error: null };
  return { ...base, ok: false, status, timedOut: false, error: { kind: 'wrong-status', message: `status ${status}, expected 200` } };
}

function probes(specs: string): ProbeResult[] {
  return specs.split(/\s+/).filter(Boolean).map(probe);
}

type Row = {
  name: string;
  check?: Partial<HealthCheckInput>;
  probes: string;
  consecutiveFailures?: number;
  expected: { outcome: string; reasons: string[]; p95Ms: number | null; maxConsecutive: number; total: number };
};

describe('one check over a run of probes', () => {
  const rows: Row[] = [
    { name: 'every probe answered as expected: passed', probes: '200@10 200@12 200@11', expected: { outcome: 'passed', reasons: [], p95Ms: 12, maxConsecutive: 0, total: 0 } },
    { name: 'one flaky probe is no failure', probes: '200@10 500@8 200@11', expected: { outcome: 'passed', reasons: [], p95Ms: 11, maxConsecutive: 1, total: 1 } },
    {
      name: 'failures that are not consecutive never reach the threshold',
      probes: '500 200 500 200 500 200',
      expected: { outcome: 'passed', reasons: [], p95Ms: 3, maxConsecutive: 1, total: 3 },
    },
    {
      name: 'two consecutive failures under a threshold of 3: passed',
      probes: '200@4 refused@1 refused@1 200@5',
      expected: { outcome: 'passed', reasons: [], p95Ms: 5, maxConsecutive: 2, total: 2 },
    },
    {
      name: 'three consecutive failures: failed, with the last error',
      probes: '200@4 500@2 refused@1 refused@1',
      expected: { outcome: 'failed', reasons: ['3 consecutive failed probes (threshold 3): connection refused: nothing listens on 127.0.0.1:9400'], p95Ms: 4, maxConsecutive: 3, total: 3 },
    },
    {
      name: 'the threshold is the run setting: 2 consecutive failures fail at 2',
      probes: '200@4 500@2 500@2 200@4',
      consecutiveFailures: 2,
      expected: { outcome: 'failed', reasons: ['2 consecutive failed probes (threshold 2): status 500, expected 200'], p95Ms: 4, maxConsecutive: 2, total: 2 },
    },
    {
      name: 'no answer at all: no p95, failed on consecutive failures',
      probes: 'timeout@5000 timeout@5000 timeout@5000',
      check: { latencyThresholdMs: 100 },
      expected: { outcome: 'failed', reasons: ['3 consecutive failed probes (threshold 3): no answer within 5000 ms'], p95Ms: null, maxConsecutive: 3, total: 3 },
    },
    {
      name: 'p95 over the threshold fails a check whose every probe answered 200',
      probes: '200@50 200@60 200@250',
      check: { latencyThresholdMs: 200 },
      expected: { outcome: 'failed', reasons: ['p95 latency 250 ms over the 200 ms threshold'], p95Ms: 250, maxConsecutive: 0, total: 0 },
    },
    {
      name: 'p95 equal to the threshold passes',
      probes: '200@50 200@60 200@200',
      check: { latencyThresholdMs: 200 },
      expected: { outcome: 'passed', reasons: [], p95Ms: 200, maxConsecutive: 0, total: 0 },
    },
    {
      name: 'p95 of 20 probes is the 19th slowest: one slow probe in 20 passes',
      probes: `${'200@10 '.repeat(19)}200@900`,
      check: { latencyThresholdMs: 100 },
      expected: { outcome: 'passed', reasons: [], p95Ms: 10, maxConsecutive: 0, total: 0 },
    },
    {
      name: 'two slow probes in 20 fail it',
      probes: `${'200@10 '.repeat(18)}200@900 200@950`,
      check: { latencyThresholdMs: 100 },
      expected: { outcome: 'failed', reasons: ['p95 latency 900 ms over the 100 ms threshold'], p95Ms: 900, maxConsecutive: 0, total: 0 },
    },
    {
      name: 'slow answers with a failing status count in p95; probes without an answer do not',
      probes: '500@400 refused@1 200@20',
      check: { latencyThresholdMs: 300 },
      expected: { outcome: 'failed', reasons: ['p95 latency 400 ms over the 300 ms threshold'], p95Ms: 400, maxConsecutive: 2, total: 2 },
    },
    {
      name: 'latency without a threshold is reported, not judged',
      probes: '200@5000 200@6000',
      expected: { outcome: 'passed', reasons: [], p95Ms: 6000, maxConsecutive: 0, total: 0 },
    },
    {
      name: 'both reasons at once, failures first',
      probes: '200@500 500@10 500@10 500@10',
      check: { latencyThresholdMs: 100 },
      expected: { outcome: 'failed', reasons: ['3 consecutive failed probes (threshold 3): status 500, expected 200', 'p95 latency 500 ms over the 100 ms threshold'], p95Ms: 500, maxConsecutive: 3, total: 3 },
    },
    {
      name: 'a warning check that would fail is only warned',
      probes: 'refused refused refused',
      check: { severity: 'warning' },
      expected: { outcome: 'warned', reasons: ['3 consecutive failed probes (threshold 3): connection refused: nothing listens on 127.0.0.1:9400'], p95Ms: null, maxConsecutive: 3, total: 3 },
    },
    {
      name: 'a slow warning check is only warned',
      probes: '200@300',
      check: { severity: 'warning', latencyThresholdMs: 100 },
      consecutiveFailures: 1,
      expected: { outcome: 'warned', reasons: ['p95 latency 300 ms over the 100 ms threshold'], p95Ms: 300, maxConsecutive: 0, total: 0 },
    },
  ];

  for (const row of rows) {
    test(row.name, () => {
      const checks = compileChecks([{ name: 'health', url: 'http://127.0.0.1:9400/health', ...row.check }]);
      const run = judgeRun(checks, [probes(row.probes)], row.consecutiveFailures ?? 3);
      const [verdict] = run.checks;
      assert.ok(verdict);
      assert.deepEqual(
        { outcome: verdict.outcome, reasons: verdict.reasons, p95Ms: verdict.latency.p95Ms, maxConsecutive: verdict.failures.maxConsecutive, total: verdict.failures.total },
        row.expected,
      );
      assert.equal(verdict.failures.threshold, row.consecutiveFailures ?? 3);
      assert.equal(run.healthy, row.expected.outcome !== 'failed');
    });
  }
});

describe('a run of several checks', () => {
  const checks = compileChecks([
    { name: 'health', url: 'http://127.0.0.1:9400/health' },
    { name: 'ready', url: 'http://127.0.0.1:9400/ready', latencyThresholdMs: 100 },
    { name: 'docs', url: 'http://127.0.0.1:9400/docs', severity: 'warning' },
  ]);
  const rows: Array<{ name: string; probes: [string, string, string]; expected: { healthy: boolean; failedChecks: string[]; warnedChecks: string[] } }> = [
    { name: 'all pass: healthy', probes: ['200 200 200', '200@20 200@30 200@40', '200 200 200'], expected: { healthy: true, failedChecks: [], warnedChecks: [] } },
    { name: 'only a warning fails: still healthy', probes: ['200 200 200', '200 200 200', '500 500 500'], expected: { healthy: true, failedChecks: [], warnedChecks: ['docs'] } },
    { name: 'one fatal check fails: unhealthy, and it is named', probes: ['500 500 500', '200 200 200', '200 200 200'], expected: { healthy: false, failedChecks: ['health'], warnedChecks: [] } },
    {
      name: 'failures, a slow check and a warning together, in the checks order',
      probes: ['refused refused refused', '200@150 200@150 200@150', 'refused refused refused'],
      expected: { healthy: false, failedChecks: ['health', 'ready'], warnedChecks: ['docs'] },
    },
  ];
  for (const row of rows) {
    test(row.name, () => {
      const run = judgeRun(checks, row.probes.map(probes), 3);
      assert.deepEqual({ healthy: run.healthy, failedChecks: run.failedChecks, warnedChecks: run.warnedChecks }, row.expected);
      assert.deepEqual(run.checks.map((c) => c.name), ['health', 'ready', 'docs']);
    });
  }
});

test('percentile: nearest rank, null for no values', () => {
  const rows: Array<[number[], number, number | null]> = [
    [[], 95, null],
    [[7], 95, 7],
    [[3, 1, 2], 95, 3],
    [[3, 1, 2], 50, 2],
    [[1, 2, 3, 4], 50, 2],
    [[...Array.from({ length: 19 }, () => 10), 900], 95, 10],
    [[...Array.from({ length: 100 }, (_, i) => i + 1)], 95, 95],
    [[5, 1], 0, 1],
  ];
  for (const [values, p, expected] of rows) assert.equal(percentile(values, p), expected, `p${p} of [${values.join(', ')}]`);
});
