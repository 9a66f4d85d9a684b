import { mkdirSync, mkdtempSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncidentEvent } from '@agentbus/incident';
import { describeEvent } from '@agentbus/incident';
import { booleanOption, parseInteger, stringOption, type Command } from '../command.ts';
import { table } from '../render.ts';

const clock = (iso: string) => iso.slice(11, 23);
const seconds = (ms: number | null) => (ms === null ? '-' : `${(ms / 1000).toFixed(2)} s`);

export const demo: Command = {
  path: ['demo'],
  summary: 'seed 000 end to end: a merge breaks /health; agentbus detects it, reverts, pushes, redeploys and verifies',
  usage: '[--stabilization-ms N] [--keep]',
  options: { 'stabilization-ms': { type: 'string' }, keep: { type: 'boolean' } },
  async run(ctx, args) {
    const stabilizationText = stringOption(args, 'stabilization-ms');
    const stabilizationMs = stabilizationText === undefined ? 0 : parseInteger(stabilizationText, '--stabilization-ms');
    const { runSeed000Demo } = await import('../demo.ts'); // the services' modules load only when needed
    const nc = await ctx.nats();
    const workDir = mkdtempSync(join(tmpdir(), 'agentbus-demo-'));
    const logDir = join(ctx.config.home, 'logs');
    mkdirSync(logDir, { recursive: true });
    const logPath = join(logDir, `demo-${new Date().toISOString().replace(/[:.]/g, '-')}.log`);
    const log = createWriteStream(logPath);
    ctx.out.line('agentbus demo: seed 000 — a feature branch that breaks /health is merged and deployed, with nobody awake');
    ctx.out.line(`  repositories and service in ${workDir}; services log to ${logPath}`);
    ctx.out.line('');
    ctx.out.line(`${'TIME'.padEnd(12)}  ${'ACTOR'.padEnd(14)}  EVENT`);
    const onEvent = (event: IncidentEvent) => ctx.out.line(`${clock(event.time)}  ${event.source.padEnd(14)}  ${describeEvent(event)}`);
    try {
      const result = await runSeed000Demo({ nc, natsUrl: ctx.natsUrl()!, workDir, stabilizationMs, logDestination: log, onEvent, keep: booleanOption(args, 'keep') });
      ctx.out.data(result);
      const ok = result.outcome === 'rolled-back' && result.originHeadRevertsMerge && result.serviceHealthy;
      ctx.out.line('');
      ctx.out.line(`outcome: ${result.outcome}${ok ? ' — the service is healthy again, nobody was paged' : ''}`);
      for (const line of table(
        ['', ''],
        [
          ['merge commit', result.mergeCommit ?? '-'],
          ['revert commit', result.revertCommit ?? '-'],
          ['origin now at', `${result.originHead ?? '-'}${result.originHeadRevertsMerge ? ' (the revert of exactly that merge)' : ''}`],
          ['detected', `${seconds(result.detectedMs)} after the merge`],
          ['reverted', `${seconds(result.revertedMs)} after the merge (pushed, remote verified)`],
          ['healthy', `${seconds(result.healthyMs)} after the merge (redeployed, re-probed)`],
          ['agentbus itself', `${seconds(result.platformMs)} (the rest: deploy commands ${seconds(result.excluded.deployCommandMs ?? 0)}, configured waits and probe time-outs)`],
        ],
      ).slice(1))
        ctx.out.line(`  ${line}`);
      ctx.out.line('');
      ctx.out.line(`the incident's events: agentbus replay --stream AGENT_EVENTS --from-seq 1 (correlation ${result.correlationId})`);
      return ok ? 0 : 1;
    } finally {
      await new Promise<void>((resolve) => log.end(() => resolve()));
    }
  },
};
