import { AgentbusError, cutToLength, formatDuration, formatIssues, postmortemPath, safeLine, safeText } from '@agentbus/contracts';
import { CliErrorCodes } from '../errors.ts';
import { isStateNotFound, parseDocumentPath, type StateStore } from '@agentbus/state';
import { postmortemSchema, renderPostmortemMarkdown, type Postmortem } from '@agentbus/incident';
import { UsageError, type Command } from '../command.ts';
import { shortTime, table } from '../render.ts';
import { openStore } from './state.ts';

const duration = (ms: number | null) => (ms === null ? '-' : formatDuration(ms));

/**
 * The post-mortem `agentbus postmortem show <arg>` means: the incident with that id
 * (postmortemPath), else the document it names (`postmortems/<id>`, or `<id>` as the ticket and
 * the Markdown file name it).
 */
async function findPostmortem(store: StateStore, arg: string) {
  const candidates = [postmortemPath(arg), arg, `postmortems/${arg}`].filter((path, index, all) => all.indexOf(path) === index && path.startsWith('postmortems/') && isDocumentPath(path));
  for (const path of candidates) {
    try {
      return { path, head: await store.get(path) };
    } catch (error) {
      if (!isStateNotFound(error)) throw error;
    }
  }
  throw new AgentbusError(CliErrorCodes.notFound, `no post-mortem for incident ${JSON.stringify(safeLine(arg, 200))}`, { hint: 'list incidents with `agentbus incidents`' });
}

function isDocumentPath(path: string): boolean {
  try {
    parseDocumentPath(path);
    return true;
  } catch {
    return false;
  }
}

export const incidents: Command = {
  path: ['incidents'],
  summary: 'list incidents (every one has a post-mortem): service, start, outcome and durations',
  usage: '',
  async run(ctx) {
    const store = await openStore(ctx);
    const paths = (await store.listDocuments()).filter((path) => path.startsWith('postmortems/'));
    const rows: Postmortem[] = [];
    for (const path of paths) {
      const parsed = postmortemSchema.safeParse((await store.get(path)).data);
      // Anyone may write a document there (agentbus state put): what is not a post-mortem is named, not fatal.
      if (parsed.success) rows.push(parsed.data);
      else ctx.out.note(`agentbus: warning: ${path} is not a post-mortem document; skipped`);
    }
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
      rows.map((pm) => [safeLine(pm.incidentId, 200), safeLine(pm.service ?? '-'), shortTime(pm.impact.startedAt ?? undefined), safeLine(pm.outcome), safeLine(pm.status), duration(pm.impact.timeToDetectMs), duration(pm.impact.timeToRollBackMs), duration(pm.impact.degradedMs)]),
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
    const { path, head } = await findPostmortem(store, id);
    const parsed = postmortemSchema.safeParse(head.data);
    if (!parsed.success) {
      throw new AgentbusError(CliErrorCodes.notPostmortem, `${path} is not a post-mortem document: ${cutToLength(formatIssues(parsed.error, ''), 1_000)}`, {
        hint: `read it as it is with \`agentbus state get ${path}\``,
      });
    }
    ctx.out.data({ ...head.data, version: head.envelope.number }); // the document as stored, fields agentbus does not read included
    ctx.out.line(safeText(renderPostmortemMarkdown(parsed.data).trimEnd(), { max: Number.MAX_SAFE_INTEGER }));
    ctx.out.line('');
    ctx.out.line(`(version ${head.envelope.number} of ${path}; its history: agentbus state history ${path})`);
    return 0;
  },
};
