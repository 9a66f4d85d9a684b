import { mkdirSync, mkdtempSync, createWriteStream, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncidentEvent } from '@agentbus/incident';
import { describeEvent } from '@agentbus/incident';
import { booleanOption, parseInteger, stringOption, type Command } from '../command.ts';
import { formatDuration } from '@agentbus/contracts';
import { table } from '../render.ts';

const clock = (iso: string) => iso.slice(11, 23);

export const demo: Command = {
  path: ['demo'],
  summary: 'seed 000 end to end on its own NATS server and services (beside a running `up`, touching nothing of yours): a merge breaks /health; agentbus detects it, reverts, pushes, redeploys and verifies',
  usage: '[--stabilization-ms N] [--keep]',
  options: { 'stabilization-ms': { type: 'string' }, keep: { type: 'boolean' } },
  async run(ctx, args) {
    const stabilizationText = stringOption(args, 'stabilization-ms');
    const stabilizationMs = stabilizationText === undefined ? 0 : parseInteger(stabilizationText, '--stabilization-ms');
    const { runSeed000DemoOnOwnNats } = await import('@agentbus/platform'); // the services' modules load only when needed
    const keep = booleanOption(args, 'keep');
    // Everything the demo makes lives in one temp dir, its own nats-server included: it never
    // touches the user's NATS (NATS_URL, or the server of a running `agentbus up`) or services.
    const workDir = mkdtempSync(join(tmpdir(), 'agentbus-demo-'));
    ctx.onExit(() => {
      if (!keep) rmSync(workDir, { recursive: true, force: true });
    });
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
      const result = await runSeed000DemoOnOwnNats({ workDir, natsServerBinary: ctx.config.natsServerBinary, stabilizationMs, logDestination: log, onEvent, keep, signal: ctx.stopSignal });
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
          ['detected', `${formatDuration(result.detectedMs)} after the merge`],
          ['reverted', `${formatDuration(result.revertedMs)} after the merge (pushed, remote verified)`],
          ['healthy', `${formatDuration(result.healthyMs)} after the merge (redeployed, re-probed)`],
          ['agentbus itself', `${formatDuration(result.platformMs)} (the rest: deploy commands ${formatDuration(result.excluded.deployCommandMs ?? 0)}, configured waits and probe time-outs)`],
        ],
      ).slice(1))
        ctx.out.line(`  ${line}`);
      ctx.out.line('');
      ctx.out.line(keep ? `kept in ${workDir}: the repositories, the post-mortem and the demo's NATS store` : `the demo's NATS server, repositories and post-mortem were removed (--keep keeps them in the temp dir)`);
      return ok ? 0 : 1;
    } finally {
      await new Promise<void>((resolve) => log.end(() => resolve()));
    }
  },
};
