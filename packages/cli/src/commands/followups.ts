import { followupLabel, formatDuration, safeLine, serviceName } from '@agentbus/contracts';
import { FollowupStore } from '@agentbus/health';
import { stringOption, UsageError, type Command } from '../command.ts';
import { shortTime, table } from '../render.ts';

/** "in 3 h 59 min", "12.0 s ago": how far the due time is from now. */
function relative(dueAt: string, now: number): string {
  const ms = Date.parse(dueAt) - now;
  return ms >= 0 ? `in ${formatDuration(ms)}` : `${formatDuration(-ms)} ago`;
}

export const followupsList: Command = {
  path: ['followups', 'list'],
  summary: 'follow-up checks of deployments, pending and recent: when each is due and how it ended',
  usage: '[--service <name>]',
  options: { service: { type: 'string' } },
  async run(ctx, args) {
    const service = stringOption(args, 'service');
    if (service !== undefined && !serviceName.safeParse(service).success) {
      throw new UsageError(`--service ${JSON.stringify(safeLine(service, 80))} is not a service name (lower-case letters, digits, - and _)`);
    }
    const records = await (await FollowupStore.open(await ctx.nats())).list(service);
    for (const record of records) ctx.out.data(record);
    if (records.length === 0) {
      ctx.out.line(service ? `no follow-ups of ${service}` : 'no follow-ups');
      return 0;
    }
    const now = Date.now();
    const rows = records.map((r) => [
      safeLine(r.service),
      safeLine(r.deploymentId, 40),
      `${followupLabel(r.offsetMs)} (${r.n}/${r.of})`,
      shortTime(r.dueAt),
      r.status === 'pending' ? relative(r.dueAt, now) : r.firedAt ? `fired ${formatDuration(Math.max(0, Date.parse(r.firedAt) - Date.parse(r.dueAt)))} after due` : '-',
      r.status,
      safeLine(r.detail ?? '', 100),
    ]);
    for (const line of table(['SERVICE', 'DEPLOYMENT', 'FOLLOW-UP', 'DUE', 'WHEN', 'STATUS', 'DETAIL'], rows)) ctx.out.line(line);
    return 0;
  },
};
