import { AgentbusError } from '@agentbus/contracts';
import { isStateNotFound } from '@agentbus/state';
import type { Postmortem } from '@agentbus/incident';
import { renderPostmortemMarkdown } from '@agentbus/incident';
import { UsageError, type Command } from '../command.ts';
import { shortTime, table } from '../render.ts';
import { openStore } from './state.ts';

const seconds = (ms: number | null) => (ms === null ? '-' : `${(ms / 1000).toFixed(1)}s`);

/** `postmortems/<id>`: the incident id as a document id (what the post-mortem writer stores). */
function postmortemPath(id: string): string {
  return id.startsWith('postmortems/') ? id : `postmortems/${id.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 128)}`;
}

export const incidents: Command = {
  path: ['incidents'],
  summary: 'list incidents (every one has a post-mortem): service, start, outcome and durations',
  usage: '',
  async run(ctx) {
    const store = await openStore(ctx);
    const paths = (await store.listDocuments()).filter((path) => path.startsWith('postmortems/'));
    const rows: Postmortem[] = [];
    for (const path of paths) rows.push((await store.get(path)).data as unknown as Postmortem);
    rows.sort((a, b) => (a.impact.startedAt ?? '').localeCompare(b.impact.startedAt ?? ''));
    for (const pm of rows) {
      ctx.out.data({ id: pm.incidentId, service: pm.service, startedAt: pm.impact.startedAt, outcome: pm.outcome, status: pm.status, title: pm.title, impact: pm.impact });
    }
    if (rows.length === 0) {
      ctx.out.line('no incidents');
      return 0;
    }
    const lines = table(
      ['ID', 'SERVICE', 'STARTED', 'OUTCOME', 'STATUS', 'DETECT', 'ROLL BACK', 'DEGRADED'],
      rows.map((pm) => [pm.incidentId, pm.service ?? '-', shortTime(pm.impact.startedAt ?? undefined), pm.outcome, pm.status, seconds(pm.impact.timeToDetectMs), seconds(pm.impact.timeToRollBackMs), seconds(pm.impact.degradedMs)]),
    );
    for (const line of lines) ctx.out.line(line);
    return 0;
  },
};

export const postmortemShow: Command = {
  path: ['postmortem', 'show'],
  summary: 'print the post-mortem of an incident (Markdown; --json for the document)',
  usage: '<incident id>',
  positionals: { min: 1, max: 1 },
  async run(ctx, args) {
    const id = args.positionals[0]!;
    if (!id.trim()) throw new UsageError('give an incident id (agentbus incidents lists them)');
    const store = await openStore(ctx);
    try {
      const head = await store.get(postmortemPath(id));
      const pm = head.data as unknown as Postmortem;
      ctx.out.data({ ...pm, version: head.envelope.number });
      ctx.out.line(renderPostmortemMarkdown(pm).trimEnd());
      ctx.out.line('');
      ctx.out.line(`(version ${head.envelope.number} of ${postmortemPath(id)}; its history: agentbus state history ${postmortemPath(id)})`);
      return 0;
    } catch (error) {
      if (isStateNotFound(error)) {
        throw new AgentbusError('not-found', `no post-mortem for incident "${id}"`, { hint: 'list incidents with `agentbus incidents`' });
      }
      throw error;
    }
  },
};
