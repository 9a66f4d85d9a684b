import { agentbusTopology, applyTopology, detectReplicas } from '@agentbus/streams';
import { booleanOption, parseInteger, stringOption, type Command } from '../command.ts';

export const streamsApply: Command = {
  path: ['streams', 'apply'],
  identity: 'admin',
  summary: 'create or update the streams, consumers and KV buckets declared in streams/ (idempotent)',
  usage: '[--dry-run] [--replicas N]',
  options: { 'dry-run': { type: 'boolean' }, replicas: { type: 'string' } },
  async run(ctx, args) {
    const nc = await ctx.nats();
    const replicasFlag = stringOption(args, 'replicas');
    const replicas = replicasFlag === undefined ? detectReplicas(nc) : parseInteger(replicasFlag, '--replicas', 1);
    const report = await applyTopology(nc, agentbusTopology({ replicas }), { dryRun: booleanOption(args, 'dry-run') });
    ctx.out.data(report);
    const verb = (action: string) => (report.dryRun ? { create: 'would create', update: 'would update' }[action] ?? action : { create: 'created', update: 'updated' }[action] ?? action);
    for (const change of report.changes) {
      ctx.out.line(`${change.kind} ${change.name}: ${verb(change.action)}${change.detail ? ` — ${change.detail}` : ''}`);
      for (const field of change.fields) ctx.out.line(`    ${field}`);
    }
    const counts = (kind: string) => report.changes.filter((c) => c.kind === kind).length;
    if (!report.changed && report.conflicts === 0) {
      ctx.out.line(`nothing to change: ${counts('stream')} streams, ${counts('consumer')} consumers and ${counts('bucket')} buckets are up to date (replicas ${report.replicas})`);
    } else if (report.dryRun) {
      ctx.out.line('dry run: nothing was changed; run without --dry-run to apply');
    }
    if (report.conflicts > 0) {
      ctx.out.note(`agentbus: ${report.conflicts} conflict(s) could not be applied; see above`);
      return 1;
    }
    return 0;
  },
};
