import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { agentbusRegistry, formatIssues, getDefinition, newMessageId, RELEASE_RUNS, releaseRunPath, releaseRunSchema, RollbackScopes, safeLine, shortSha, type ReleaseRun, type ReleaseStatus } from '@agentbus/contracts';
import { Publisher } from '@agentbus/bus';
import { describeEvent, type IncidentEvent } from '@agentbus/incident';
import { isStateNotFound } from '@agentbus/state';
import { ExitCodes, releaseExitCode } from '../exit-codes.ts';
import { booleanOption, parseInteger, parseJsonOption, stringOption, UsageError, type Command, type CommandContext, type ParsedArgs } from '../command.ts';
import { shortTime, table } from '../render.ts';
import { openStore } from './state.ts';

/**
 * `agentbus release …`: staged multi-service releases (the release agent runs them). start sends
 * the release.start task (validated here first: every problem named before anything is sent);
 * status and list read the release documents (release-runs/<id>); abort sends release.abort.
 */

function requester(args: ParsedArgs, what: string): string {
  const given = stringOption(args, 'requested-by');
  if (given !== undefined) return given;
  try {
    return `${userInfo().username} (agentbus release ${what})`;
  } catch {
    return `agentbus release ${what}`;
  }
}

function listOption(args: ParsedArgs, name: string): string[] {
  const value = args.values[name];
  return Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
}

/** The release.start task's data from the command line: --file, or --step svc=ref …, with --guard-ms, --rollback-scope and --also-check over it. */
export function releaseSpecFrom(args: ParsedArgs): Record<string, unknown> {
  const file = stringOption(args, 'file');
  const stepWords = listOption(args, 'step');
  if (file !== undefined && stepWords.length) throw new UsageError('give the steps with --file or with --step, not both');
  let spec: Record<string, unknown> = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (error) {
      throw new UsageError(`--file ${file}: cannot read it: ${(error as Error).message}`, 'give the path of a release file (JSON), or - for standard input');
    }
    const parsed = parseJsonOption(text, '--file', 'message');
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`--file ${file}: a release file is a JSON object, {"steps": [{"service": "api", "ref": "feature/x"}], …}`);
    spec = { ...(parsed as Record<string, unknown>) };
  } else {
    if (stepWords.length === 0) throw new UsageError('a release needs at least one step', 'add --step <service>=<ref> for each service, in promotion order, or --file release.json');
    spec.steps = stepWords.map((word) => {
      const at = word.indexOf('=');
      if (at <= 0 || at === word.length - 1) throw new UsageError(`--step ${JSON.stringify(safeLine(word, 80))} is not <service>=<ref>`, 'e.g. --step api=feature/x');
      return { service: word.slice(0, at), ref: word.slice(at + 1) };
    });
  }
  const guard = stringOption(args, 'guard-ms');
  if (guard !== undefined) {
    const guardMs = parseInteger(guard, '--guard-ms');
    // The file's own per-step guard windows win over the flag.
    if (Array.isArray(spec.steps)) spec.steps = spec.steps.map((step: unknown) => (typeof step === 'object' && step !== null && !('guardMs' in step) ? { ...step, guardMs } : step));
  }
  // A file's top-level guardMs is the default of its steps.
  if (typeof spec.guardMs === 'number' && Array.isArray(spec.steps)) {
    const guardMs = spec.guardMs;
    spec.steps = spec.steps.map((step: unknown) => (typeof step === 'object' && step !== null && !('guardMs' in step) ? { ...step, guardMs } : step));
  }
  delete spec.guardMs;
  const scope = stringOption(args, 'rollback-scope');
  if (scope !== undefined) {
    if (!(RollbackScopes as readonly string[]).includes(scope)) throw new UsageError(`--rollback-scope ${JSON.stringify(safeLine(scope, 40))} is not one of ${RollbackScopes.join(', ')}`);
    spec.rollbackScope = scope;
  }
  const also = listOption(args, 'also-check');
  if (also.length) spec.alsoCheck = [...(Array.isArray(spec.alsoCheck) ? spec.alsoCheck : []), ...also];
  spec.requestedBy = requester(args, 'start');
  spec.dryRun = booleanOption(args, 'dry-run');
  const parsed = getDefinition(agentbusRegistry, 'release.start').schema.safeParse(spec);
  if (!parsed.success) throw new UsageError(`the release is not valid: ${formatIssues(parsed.error, '')}`, 'nothing was sent; fix the named fields (services as in the registry, each once, in promotion order)');
  return spec;
}

export const releaseStart: Command = {
  path: ['release', 'start'],
  summary: 'promote services one at a time (guard window after each, final check across them); --wait follows it and exits 0 healthy, 3 rolled back, 4 triage, 5 failed, 6 aborted',
  usage: '--step <service>=<ref> … | --file <release.json>  [--guard-ms N] [--rollback-scope service|release] [--also-check <service> …] [--dry-run] [--wait] [--timeout-ms N] [--requested-by <name>]',
  options: {
    step: { type: 'string', multiple: true },
    file: { type: 'string' },
    'guard-ms': { type: 'string' },
    'rollback-scope': { type: 'string' },
    'also-check': { type: 'string', multiple: true },
    'dry-run': { type: 'boolean' },
    wait: { type: 'boolean' },
    'timeout-ms': { type: 'string' },
    'requested-by': { type: 'string' },
  },
  async run(ctx, args) {
    const spec = releaseSpecFrom(args);
    const timeoutText = stringOption(args, 'timeout-ms');
    const timeoutMs = timeoutText === undefined ? 60 * 60_000 : parseInteger(timeoutText, '--timeout-ms', 1);
    const nc = await ctx.nats();
    const { releaseAndFollow, requestRelease } = await import('@agentbus/platform');
    if (!booleanOption(args, 'wait')) {
      const { releaseId, published } = await requestRelease(nc, spec as never);
      ctx.out.data({ releaseId, stream: published.stream, seq: published.seq, duplicate: published.duplicate });
      ctx.out.line(`release ${releaseId} sent (${published.stream} seq ${published.seq}); follow it with \`agentbus release status ${releaseId}\``);
      return 0;
    }
    const onEvent = (event: IncidentEvent) => {
      ctx.out.line(`${event.time.slice(11, 23)}  ${event.source.padEnd(14)}  ${describeEvent(event)}`);
      ctx.out.data({ event: { time: event.time, type: event.type, source: event.source, text: describeEvent(event) } });
    };
    const run = await releaseAndFollow(nc, spec as never, { timeoutMs, onEvent, signal: ctx.stopSignal });
    if (run.end.type === 'release.planned') {
      const plan = run.end.data;
      ctx.out.data({ result: { releaseId: plan.releaseId, dryRun: true, steps: plan.steps.map((step) => ({ ...step, status: 'pending' })), finalCheck: plan.finalCheck, onFailure: plan.onFailure } });
      ctx.out.line();
      ctx.out.line(`release ${plan.releaseId} (dry run: nothing was changed)`);
      for (const step of plan.steps) {
        ctx.out.line(`step ${step.n}/${plan.steps.length}: ${step.service} ${step.ref}`);
        for (const line of step.plan) ctx.out.line(`  - ${line}`);
      }
      ctx.out.line(`final check: ${plan.finalCheck.join(', ')}`);
      for (const line of plan.onFailure) ctx.out.line(`  - ${line}`);
      return ExitCodes.ok;
    }
    const end = run.end.data;
    const doc = await readRelease(ctx, end.releaseId).catch(() => undefined);
    ctx.out.data({ result: doc ?? { releaseId: end.releaseId, status: end.status, steps: end.steps, detail: end.detail } });
    const code = releaseExitCode(end.status);
    ctx.out.line(`release ${end.releaseId}: ${end.status}${code === ExitCodes.ok ? '' : ` — ${end.detail} (exit ${code})`}`);
    return code;
  },
};

async function readRelease(ctx: CommandContext, releaseId: string): Promise<ReleaseRun | undefined> {
  const store = await openStore(ctx);
  try {
    return releaseRunSchema.parse((await store.get(releaseRunPath(releaseId))).data);
  } catch (error) {
    if (isStateNotFound(error)) return undefined;
    throw error;
  }
}

function releaseId(args: ParsedArgs): string {
  const id = args.positionals[0]!;
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(id)) throw new UsageError(`${JSON.stringify(safeLine(id, 80))} is not a release id`, '`agentbus release list` shows them');
  return id;
}

function unknownRelease(id: string): UsageError {
  return new UsageError(`there is no release ${id} (no ${releaseRunPath(id)})`, '`agentbus release list` shows the releases');
}

export const releaseStatus: Command = {
  path: ['release', 'status'],
  summary: 'one release: its status, and each step with its verdict, guard window and commits',
  usage: '<release-id>',
  positionals: { min: 1, max: 1 },
  async run(ctx, args) {
    const id = releaseId(args);
    const release = await readRelease(ctx, id);
    if (!release) throw unknownRelease(id);
    ctx.out.data(release);
    ctx.out.line(`release ${release.releaseId}: ${release.status} (rollback scope ${release.rollbackScope}; requested by ${safeLine(release.requestedBy, 100)} at ${shortTime(release.startedAt)}${release.endedAt ? `, ended ${shortTime(release.endedAt)}` : ''})`);
    if (release.detail) ctx.out.line(safeLine(release.detail, 2_000));
    const rows = release.steps.map((s) => [String(s.n), s.service, s.ref, s.status, s.verdict ?? '-', s.guard ?? (s.guardMs > 0 ? '-' : 'none'), s.mergeCommit ? shortSha(s.mergeCommit) : '-', s.revertCommit ? shortSha(s.revertCommit) : '-', safeLine(s.detail ?? '', 100)]);
    for (const line of table(['STEP', 'SERVICE', 'REF', 'STATUS', 'VERDICT', 'GUARD', 'MERGE', 'REVERT', 'DETAIL'], rows)) ctx.out.line(line);
    if (release.finalCheck) ctx.out.line(`final check: ${release.finalCheck.outcome} (${release.finalCheck.services.map((s) => `${s.service} ${s.outcome}`).join(', ')})`);
    return 0;
  },
};

export const releaseList: Command = {
  path: ['release', 'list'],
  summary: 'every release, newest first: status, steps, how it ended',
  usage: '',
  async run(ctx) {
    const store = await openStore(ctx);
    const paths = (await store.listDocuments()).filter((path) => path.startsWith(`${RELEASE_RUNS}/`));
    const releases: ReleaseRun[] = [];
    for (const path of paths) {
      const parsed = releaseRunSchema.safeParse((await store.get(path)).data);
      if (parsed.success) releases.push(parsed.data);
      else ctx.out.note(`${path} is not a release document: left out (agentbus state get ${path} shows it)`);
    }
    releases.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
    for (const release of releases) ctx.out.data(release);
    if (releases.length === 0) {
      ctx.out.line('no releases');
      return 0;
    }
    const rows = releases.map((r) => [r.releaseId, r.status, shortTime(r.startedAt), r.steps.map((s) => `${s.service}:${s.status}`).join(' '), safeLine(r.detail ?? '', 100)]);
    for (const line of table(['RELEASE', 'STATUS', 'STARTED', 'STEPS', 'DETAIL'], rows)) ctx.out.line(line);
    return 0;
  },
};

export const releaseAbort: Command = {
  path: ['release', 'abort'],
  summary: 'stop a running release before its next step; what it promoted stays unless --rollback (rolled back newest first)',
  usage: '<release-id> [--rollback] [--requested-by <name>]',
  positionals: { min: 1, max: 1 },
  options: { rollback: { type: 'boolean' }, 'requested-by': { type: 'string' } },
  async run(ctx, args) {
    const id = releaseId(args);
    const release = await readRelease(ctx, id);
    if (!release) throw unknownRelease(id);
    const stillRunning: ReleaseStatus = 'running';
    if (release.status !== stillRunning) {
      ctx.out.data({ releaseId: id, status: release.status, aborted: false });
      ctx.out.line(`release ${id} has ended (${release.status}): nothing to abort`);
      return ExitCodes.error;
    }
    const taskId = newMessageId();
    const publisher = new Publisher(await ctx.nats(), { registry: agentbusRegistry, source: 'agentbus-cli' });
    const rollback = booleanOption(args, 'rollback');
    await publisher.publish('release.abort', { releaseId: id, rollback, requestedBy: requester(args, 'abort') }, { id: taskId, correlationId: id });
    ctx.out.data({ releaseId: id, taskId, rollback, aborted: true });
    ctx.out.line(`asked release ${id} to stop before its next step${rollback ? ', then roll back every promoted step, newest first' : ' (what it promoted stays)'}; \`agentbus release status ${id}\` shows when it has`);
    return 0;
  },
};

export const releaseCommands: Command[] = [releaseStart, releaseStatus, releaseList, releaseAbort];
