// Benchmark: the closed loop of seed 000 (a broken merge detected, reverted, pushed, redeployed,
// verified), run several times against one nats-server with stabilization 0. Reports platformMs
// (the time spent in agentbus itself: total minus configured waits, probe time-outs and the deploy
// commands) with its median and p95, next to the other durations of each run.
//
//   npm run bench:loop -- [--json] [--runs 7] [--warmup 1] [--stabilization-ms 0]
//
// --json prints one JSON line. Warm-up runs (a fresh process compiles and JITs everything once)
// are reported apart and left out of the statistics. p95 is the nearest-rank percentile: with
// fewer than 20 runs it is the slowest run.
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { runSeed000Demo, type DemoResult } from '@agentbus/platform';
import { startNats } from '@agentbus/testkit';

const { values } = parseArgs({ options: { json: { type: 'boolean' }, runs: { type: 'string' }, warmup: { type: 'string' }, 'stabilization-ms': { type: 'string' } } });
const RUNS = Number(values.runs ?? 7);
const WARMUP = Number(values.warmup ?? 1);
const STABILIZATION_MS = Number(values['stabilization-ms'] ?? 0);
const GOAL_MEDIAN_PLATFORM_MS = 1_000;

interface Run {
  platformMs: number;
  totalMs: number;
  detectedMs: number;
  revertedMs: number;
  healthyMs: number;
  deployCommandMs: number;
  probeWaitMs: number;
  verifyWaitMs: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : Math.round((s[mid - 1]! + s[mid]!) / 2);
};
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.max(0, Math.ceil(0.95 * xs.length) - 1)]!;
const stats = (xs: number[]) => ({ median: median(xs), p95: p95(xs), min: Math.min(...xs), max: Math.max(...xs) });

function toRun(result: DemoResult): Run {
  const needed = { platformMs: result.platformMs, totalMs: result.totalMs, detectedMs: result.detectedMs, revertedMs: result.revertedMs, healthyMs: result.healthyMs };
  const missing = Object.entries(needed).filter(([, value]) => value === null);
  if (result.outcome !== 'rolled-back' || !result.originHeadRevertsMerge || !result.serviceHealthy || missing.length) {
    throw new Error(`the loop did not complete: outcome ${result.outcome}, origin reverts the merge: ${result.originHeadRevertsMerge}, healthy: ${result.serviceHealthy}${missing.length ? `, missing ${missing.map(([k]) => k).join(', ')}` : ''}`);
  }
  return {
    ...(needed as Record<keyof typeof needed, number>),
    deployCommandMs: result.excluded.deployCommandMs ?? 0,
    probeWaitMs: (result.excluded.probeWaitMs ?? 0) + (result.excluded.probeTimeoutMs ?? 0),
    verifyWaitMs: result.excluded.verifyWaitMs ?? 0,
  };
}

const server = await startNats();
const nc = await connect({ servers: server.url, name: 'bench-loop' });
const logDir = mkdtempSync(join(tmpdir(), 'agentbus-bench-loop-'));
const log = createWriteStream(join(logDir, 'services.log'));
const warmup: Run[] = [];
const runs: Run[] = [];
try {
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const workDir = mkdtempSync(join(tmpdir(), 'agentbus-bench-loop-run-'));
    try {
      const result = await runSeed000Demo({ nc, natsUrl: server.url, workDir, stabilizationMs: STABILIZATION_MS, logDestination: log });
      (i < WARMUP ? warmup : runs).push(toRun(result));
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
    if (!values.json) {
      const run = (i < WARMUP ? warmup : runs).at(-1)!;
      process.stderr.write(`${i < WARMUP ? 'warm-up' : `run ${i - WARMUP + 1}/${RUNS}`}: platform ${run.platformMs} ms, healthy ${run.healthyMs} ms after the merge (deploy commands ${run.deployCommandMs} ms)\n`);
    }
  }
} finally {
  await new Promise<void>((resolve) => log.end(() => resolve()));
  await nc.close();
  await server.stop();
  rmSync(logDir, { recursive: true, force: true });
}

const column = (key: keyof Run) => runs.map((run) => run[key]);
const report = {
  name: 'loop',
  runs: RUNS,
  stabilizationMs: STABILIZATION_MS,
  platformMs: { ...stats(column('platformMs')), values: column('platformMs') },
  goal: { medianPlatformMs: GOAL_MEDIAN_PLATFORM_MS, met: median(column('platformMs')) < GOAL_MEDIAN_PLATFORM_MS },
  detectedMs: { ...stats(column('detectedMs')), values: column('detectedMs') },
  revertedMs: { ...stats(column('revertedMs')), values: column('revertedMs') },
  healthyMs: { ...stats(column('healthyMs')), values: column('healthyMs') },
  totalMs: { ...stats(column('totalMs')), values: column('totalMs') },
  deployCommandMs: { ...stats(column('deployCommandMs')), values: column('deployCommandMs') },
  probeWaitMs: { ...stats(column('probeWaitMs')), values: column('probeWaitMs') },
  verifyWaitMs: { ...stats(column('verifyWaitMs')), values: column('verifyWaitMs') },
  warmup: warmup.map((run) => ({ platformMs: run.platformMs, totalMs: run.totalMs })),
};

if (values.json) {
  process.stdout.write(`${JSON.stringify(report)}\n`);
} else {
  const row = (label: string, s: { median: number; p95: number; min: number; max: number }) =>
    `${label.padEnd(16)} median ${String(s.median).padStart(5)} ms   p95 ${String(s.p95).padStart(5)} ms   (min ${s.min}, max ${s.max})`;
  console.log(`the seed-000 loop, ${RUNS} runs (stabilization ${STABILIZATION_MS} ms, ${WARMUP} warm-up run(s) left out)`);
  console.log(row('agentbus itself', report.platformMs));
  console.log(row('detected', report.detectedMs));
  console.log(row('reverted', report.revertedMs));
  console.log(row('healthy again', report.healthyMs));
  console.log(row('deploy commands', report.deployCommandMs));
  console.log(`goal: median platform time under ${GOAL_MEDIAN_PLATFORM_MS} ms — ${report.goal.met ? 'met' : 'NOT met'}`);
}
