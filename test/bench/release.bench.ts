// Benchmark: what a staged release costs over promoting the same services by hand. Ours: one
// `release.start` of three steps (api, web, billing; guard windows 0, stabilization 0), run by the
// release agent to its end (its final check included). The reference: the same three deploys sent
// one after another by a script that waits for each to end healthy (`deployAndFollow`, what
// `agentbus deploy --wait` does) — the release without the release agent. Same loop, same
// nats-server and services (the e2e harness), rounds interleaved (which side goes first
// alternates), a warm-up of each left out, medians.
//
//   npm run bench:release -- [--json] [--rounds 5]
//
// Figures: `total` (request → the last step healthy; for ours, → release.completed) and `handoff`
// (one step's health.passed → the next step's deploy.merged: the time between promotions).
// --json prints one JSON line per figure: {name, ours_ms, reference_ms, ratio}.
import { parseArgs } from 'node:util';
import type { IncidentEvent } from '@agentbus/incident';
import { deployAndFollow, releaseAndFollow } from '@agentbus/platform';
import { startLoop, type Loop } from '../e2e/harness.ts';

const { values } = parseArgs({ options: { json: { type: 'boolean' }, rounds: { type: 'string' } } });
const ROUNDS = Number(values.rounds ?? 5);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) {
  process.stderr.write(`--rounds takes a whole number of at least 1; got ${values.rounds}\n`);
  process.exit(2);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : Math.round((s[mid - 1]! + s[mid]!) / 2);
};
const at = (event: IncidentEvent | undefined) => (event ? Date.parse(event.time) : NaN);

/** A new change of every service, for one side of one round. */
async function branches(loop: Loop, name: string): Promise<string[]> {
  return Promise.all(loop.services.map(async (service) => {
    const ref = `bench/${name}`;
    await service.pushBranch(ref, { [`changes/${name}.txt`]: `${name}\n` });
    return ref;
  }));
}

/** health.passed of each step → deploy.merged of the next. */
function handoffs(perStep: IncidentEvent[][]): number[] {
  const gaps: number[] = [];
  for (let i = 1; i < perStep.length; i++) {
    const passed = perStep[i - 1]!.find((e) => e.type === 'health.passed');
    const merged = perStep[i]!.find((e) => e.type === 'deploy.merged');
    gaps.push(at(merged) - at(passed));
  }
  return gaps;
}

async function ours(loop: Loop, refs: string[]): Promise<{ totalMs: number; handoffMs: number[] }> {
  const started = Date.now();
  const run = await releaseAndFollow(loop.nc, { requestedBy: 'bench', steps: loop.services.map((service, i) => ({ service: service.demo.name, ref: refs[i]!, guardMs: 0 })) }, { timeoutMs: 120_000, source: 'bench' });
  if (run.end.type !== 'release.completed' || (run.end.data as { status: string }).status !== 'healthy') throw new Error(`the release did not end healthy: ${JSON.stringify(run.end.data)}\n${loop.logTail()}`);
  const perStep = loop.services.map((_, i) => run.events.filter((e) => (e.data as { deploymentId?: string }).deploymentId === `${run.releaseId}-${i + 1}`));
  return { totalMs: at(run.end) - started, handoffMs: handoffs(perStep) };
}

async function reference(loop: Loop, refs: string[]): Promise<{ totalMs: number; handoffMs: number[] }> {
  const started = Date.now();
  const perStep: IncidentEvent[][] = [];
  for (const [i, service] of loop.services.entries()) {
    const run = await deployAndFollow(loop.nc, { service: service.demo.name, ref: refs[i]!, requestedBy: 'bench' }, { timeoutMs: 60_000, source: 'bench' });
    if (run.summary.outcome !== 'healthy') throw new Error(`${service.demo.name} did not deploy healthy: ${run.summary.outcome}\n${loop.logTail()}`);
    perStep.push(run.events);
  }
  return { totalMs: at(perStep.at(-1)!.find((e) => e.type === 'health.passed')) - started, handoffMs: handoffs(perStep) };
}

const loop = await startLoop({ services: ['api', 'web', 'billing'], registry: { followupOffsetsMs: [] } });
const figures = { ours: { total: [] as number[], handoff: [] as number[] }, reference: { total: [] as number[], handoff: [] as number[] } };
try {
  // Warm-up: the first run of each compiles and JITs its code paths.
  await ours(loop, await branches(loop, 'warm-up-ours'));
  await reference(loop, await branches(loop, 'warm-up-reference'));
  for (let round = 1; round <= ROUNDS; round++) {
    const order: Array<'ours' | 'reference'> = round % 2 === 1 ? ['reference', 'ours'] : ['ours', 'reference'];
    for (const side of order) {
      const refs = await branches(loop, `r${round}-${side}`);
      const run = side === 'ours' ? await ours(loop, refs) : await reference(loop, refs);
      figures[side].total.push(run.totalMs);
      figures[side].handoff.push(...run.handoffMs);
      if (!values.json) process.stderr.write(`round ${round}/${ROUNDS} ${side}: ${run.totalMs} ms (handoffs ${run.handoffMs.join(', ')} ms)\n`);
    }
  }
} finally {
  await loop.stop();
}

for (const figure of ['total', 'handoff'] as const) {
  const oursMs = median(figures.ours[figure]);
  const referenceMs = median(figures.reference[figure]);
  const line = { name: `release of 3 services: ${figure}`, ours_ms: oursMs, reference_ms: referenceMs, ratio: Number((oursMs / referenceMs).toFixed(2)), rounds: ROUNDS, ours_values: figures.ours[figure], reference_values: figures.reference[figure] };
  if (values.json) process.stdout.write(`${JSON.stringify(line)}\n`);
  else process.stdout.write(`${line.name}: ours ${oursMs} ms, reference ${referenceMs} ms (×${line.ratio})\n`);
}
