import { serviceName, gitRef } from '@agentbus/contracts';
import { describeEvent, type IncidentEvent } from '@agentbus/incident';
import { userInfo } from 'node:os';
import { ExitCodes, outcomeExitCode } from '../exit-codes.ts';
import { booleanOption, parseInteger, requireOption, stringOption, UsageError, type Command } from '../command.ts';

export const deploy: Command = {
  path: ['deploy'],
  summary: 'ask the deployer to merge a ref into a service and deploy it; --wait follows it to its end and exits 0 healthy, 3 rolled back, 4 escalated, 5 failed',
  usage: '<service> --ref <branch> [--dry-run] [--wait] [--timeout-ms N] [--requested-by <name>] [--allow-reverted]',
  positionals: { min: 1, max: 1 },
  options: { ref: { type: 'string' }, 'dry-run': { type: 'boolean' }, wait: { type: 'boolean' }, 'timeout-ms': { type: 'string' }, 'requested-by': { type: 'string' }, 'allow-reverted': { type: 'boolean' } },
  async run(ctx, args) {
    const service = args.positionals[0]!;
    const ref = requireOption(args, 'ref');
    if (!serviceName.safeParse(service).success) throw new UsageError(`"${service}" is not a service name`, 'lower-case letters, digits, - and _, as in the service registry');
    if (!gitRef.safeParse(ref).success) throw new UsageError(`--ref "${ref}" is not a branch or commit name`, 'letters, digits, . _ / -, not starting with -');
    const task = { service, ref, requestedBy: stringOption(args, 'requested-by') ?? `${userInfo().username} (agentbus deploy)`, dryRun: booleanOption(args, 'dry-run'), allowReverted: booleanOption(args, 'allow-reverted') };
    const nc = await ctx.nats();
    const { deployAndFollow, requestDeploy } = await import('@agentbus/platform'); // the services' modules load only when needed
    if (!booleanOption(args, 'wait')) {
      const { taskId, published } = await requestDeploy(nc, task);
      ctx.out.data({ taskId, stream: published.stream, seq: published.seq, duplicate: published.duplicate });
      ctx.out.line(`deploy task ${taskId} sent (${published.stream} seq ${published.seq}); follow it with --wait, or \`agentbus replay --stream AGENT_EVENTS --from-seq 1\``);
      return 0;
    }
    const timeoutText = stringOption(args, 'timeout-ms');
    const timeoutMs = timeoutText === undefined ? 15 * 60_000 : parseInteger(timeoutText, '--timeout-ms', 1);
    const onEvent = (event: IncidentEvent) => {
      ctx.out.line(`${event.time.slice(11, 23)}  ${event.source.padEnd(14)}  ${describeEvent(event)}`);
      ctx.out.data({ event: { time: event.time, type: event.type, source: event.source, text: describeEvent(event) } });
    };
    const run = await deployAndFollow(nc, task, { timeoutMs, onEvent, signal: ctx.stopSignal });
    const { summary } = run;
    ctx.out.data({ result: summary });
    const code = outcomeExitCode(summary.outcome);
    ctx.out.line(code === ExitCodes.ok ? `${service}: ${summary.outcome}` : `${service}: ${summary.outcome} — the deploy did not end healthy (exit ${code})`);
    return code;
  },
};
