import type { NatsConnection } from '@nats-io/transport-node';
import {
  AgentbusError,
  describeError,
  escalation,
  followupLabel,
  releaseRunPath,
  safeText,
  shortSha,
  type AgentbusRegistry,
  type DataOf,
  type MetricBaseline,
  type ReleaseRun,
  type ReleaseStatus,
} from '@agentbus/contracts';
import { LeaseBusyError, willBeRetried, type Handler, type HandlerContext, type LeaseManager } from '@agentbus/bus';
import { failingSummary, judgeService, openServiceRepo, releaseLeaseMs, type FleetService } from '@agentbus/fleet';
import { isGitError } from '@agentbus/git';
import { captureMetricBaseline, PrometheusClient, type PrometheusSection } from '@agentbus/health';
import type { IncidentEvent } from '@agentbus/incident';
import type { StateStore } from '@agentbus/state';
import { ReleaseEvents } from '../events.ts';
import { abortRequested, finalCulprit, isDecided, rollbackOutcome, stepOutcome, type DecidedOutcome, type PlannedStep } from '../progress.ts';
import { planLines } from '../plan.ts';
import { ReleaseErrorCodes } from '../errors.ts';

export interface ReleaseDeps {
  nc: NatsConnection;
  fleet: { services: readonly FleetService[]; prometheus?: PrometheusSection | undefined };
  state: StateStore;
  leases: LeaseManager;
  leaseWaitMs: number;
}

type Ctx = HandlerContext<AgentbusRegistry>;
type Spec = DataOf<AgentbusRegistry, 'release.start'>;
type Check = DataOf<AgentbusRegistry, 'release.checked'>;

/** The running release: its task, its steps, its services, its events and its document. */
interface Run {
  ctx: Ctx;
  deps: ReleaseDeps;
  releaseId: string;
  spec: Spec;
  steps: PlannedStep[];
  services: Map<string, FleetService>;
  events: ReleaseEvents;
  doc: ReleaseRun;
}

/**
 * release.start: runs a staged release (seed 001) to its end, one step at a time. Each step is
 * the deployer's own deploy (sent as deployer.deploy with the release's context), judged by the
 * health monitor; then its guard window, a follow-up check of that deployment `guardMs` after its
 * verdict; then the next step. After the last, a final check across the release's services (and
 * `alsoCheck`). The release holds the lease of every service it deploys from its start to its
 * end, so no other deploy or release of them runs in between (the leases are taken in name
 * order: two releases never wait on each other in a circle).
 *
 * A failing step is rolled back by the rollback agent as any deploy is (only that service,
 * seed 001); with rollbackScope `release` every step promoted before it is rolled back after it,
 * newest first; later steps are never promoted. A final check failing on exactly one service of
 * the release rolls that one back (or, with `release`, every step); failing on several, on a
 * service outside the release, or not judged, reverts nothing and is flagged for triage (an
 * escalation). So is a step that could not be judged or whose failure was not attributed to it.
 *
 * It decides from the release's events alone (progress.ts), every action it takes is a ledger
 * step, and each step's deploy task has a fixed id: a release agent that dies mid-release is
 * resumed on redelivery where it stood, repeating nothing. The release document
 * (`release-runs/<id>`) gets a version at each change.
 */
export function releaseStartHandler(deps: ReleaseDeps): Handler<AgentbusRegistry, 'release.start'> {
  return async (task, ctx) => {
    const releaseId = task.id;
    const spec = task.data;
    const services = new Map<string, FleetService>();
    const unknown: string[] = [];
    for (const name of [...spec.steps.map((step) => step.service), ...spec.alsoCheck]) {
      const service = deps.fleet.services.find((candidate) => candidate.name === name);
      if (service) services.set(name, service);
      else unknown.push(name);
    }
    const steps: PlannedStep[] = spec.steps.map((step, index) => ({
      n: index + 1,
      service: step.service,
      ref: step.ref,
      guardMs: step.guardMs ?? services.get(step.service)?.health.stabilizationMs ?? 0,
      deploymentId: `${releaseId}-${index + 1}`,
    }));
    const doc: ReleaseRun = {
      releaseId,
      status: 'running',
      requestedBy: spec.requestedBy,
      rollbackScope: spec.rollbackScope,
      alsoCheck: spec.alsoCheck,
      startedAt: task.time,
      steps: steps.map((step) => ({ ...step, status: 'pending' })),
    };
    const events = new ReleaseEvents(deps.nc, releaseId, new Date(Date.parse(task.time) - 1_000), ctx.signal);
    const run: Run = { ctx, deps, releaseId, spec, steps, services, events, doc };
    try {
      if (unknown.length) {
        const known = deps.fleet.services.map((service) => service.name).join(', ') || 'none';
        return await refuse(run, `${unknown.map((name) => `${name} is not in the service registry`).join('; ')} (it has: ${known}); nothing was merged`, 'add the service to the registry, or fix its name in the release');
      }
      if (spec.dryRun) return await planRelease(run);
      await runRelease(run);
    } catch (error) {
      // No later delivery will take the release further (the error cannot pass, or this was the
      // last attempt): it is never left running with its services leased and nobody told.
      if (run.doc.status === 'running' && !spec.dryRun && !willBeRetried(error, ctx.delivery) && !ctx.signal.aborted) {
        await triage(run, `the release agent could not go on (${describeError(error)}); what it promoted stays as it is`, { error: describeError(error) }, 'failed');
      }
      throw error;
    } finally {
      await events.close();
    }
  };
}

async function runRelease(run: Run): Promise<void> {
  const { ctx, deps, releaseId, spec, steps } = run;
  await ctx.step('started', async () => {
    await writeDoc(run, `release of ${steps.map((s) => `${s.service} ${s.ref}`).join(', ')} requested by ${spec.requestedBy}`);
    await ctx.publish('release.started', { releaseId, steps, rollbackScope: spec.rollbackScope, alsoCheck: spec.alsoCheck, requestedBy: spec.requestedBy }, { id: `${releaseId}.started` });
    return true;
  });

  // Every service the release deploys is the release's until it ends.
  const ttlMs = releaseLeaseMs(steps.map((step) => ({ service: run.services.get(step.service)!, guardMs: step.guardMs })));
  for (const name of [...new Set(steps.map((step) => step.service))].sort()) {
    try {
      await ctx.yieldWhile(() => deps.leases.acquire(name, releaseId, { ttlMs, maxWaitMs: deps.leaseWaitMs, signal: ctx.signal, onWait: () => ctx.working() }));
    } catch (error) {
      if (!(error instanceof LeaseBusyError) || ctx.signal.aborted) throw error;
      return end(run, 'failed', `${error.message}: the release waited ${deps.leaseWaitMs} ms for it and merged nothing`);
    }
  }

  // Every ref must be there before anything is merged.
  const missing = await ctx.step('check-refs', () => missingRefs(run));
  if (missing.length) return end(run, 'failed', `${missing.join('; ')}; nothing was merged`);

  // The services outside the release are judged at the end against their metrics from now.
  const alsoBaselines = await ctx.step('also-check-baselines', () => captureAlsoBaselines(run));

  for (const step of steps) {
    const abort = abortRequested(run.events.all);
    if (abort) return stopForAbort(run, abort, step.n);
    const outcome = await promote(run, step);
    if (outcome.kind === 'passed') continue;
    if (outcome.kind === 'triage') return triage(run, `step ${step.n} (${step.service} ${step.ref}): ${outcome.detail}`, { step: step.n, service: step.service });
    const what = `step ${step.n} (${step.service} ${step.ref}) ${outcome.kind === 'rolled-back' ? 'failed its checks and was rolled back' : `failed: ${outcome.detail}`}`;
    const undone = spec.rollbackScope === 'release' ? await rollBackPromoted(run, `release ${releaseId} is rolled back as a whole (rollbackScope release): ${what}`) : undefined;
    if (undone?.failed) return end(run, 'failed', `${what}; ${undone.failed}`);
    const also = undone?.rolledBack.length ? `; rolled back with it (newest first): ${undone.rolledBack.join(', ')}` : '';
    return end(run, outcome.kind === 'rolled-back' ? 'rolled-back' : 'failed', `${what}${also}; later steps were not promoted`);
  }

  const check = await ctx.step('final-check', () => finalCheck(run, alsoBaselines));
  run.doc.finalCheck = { outcome: check.outcome, checkedAt: check.finishedAt, services: check.services.map(({ service, inRelease, outcome, detail }) => ({ service, inRelease, outcome, ...(detail ? { detail } : {}) })) };
  await ctx.step('final-check-recorded', async () => {
    await ctx.publish('release.checked', { releaseId, ...check }, { id: `${releaseId}.checked` });
    await writeDoc(run, `final check: ${check.outcome}`);
    return true;
  });
  if (check.outcome === 'passed') return end(run, 'healthy', `every step passed its checks and guard window, and the final check passed on ${check.services.map((s) => s.service).join(', ')}`);

  const culprit = finalCulprit(check, steps);
  const told = check.services.filter((s) => s.outcome !== 'passed').map((s) => `${s.service}${s.inRelease ? '' : ' (not in the release)'}: ${s.detail ?? s.outcome}`).join('; ');
  if (!culprit) return triage(run, `the final check failed on ${told}: the failing service cannot be named unambiguously, so nothing was reverted`, { finalCheck: check.services.filter((s) => s.outcome !== 'passed').map((s) => s.service) });

  const reason = `the final check of release ${releaseId} failed on ${culprit.service} only: ${check.services.find((s) => s.service === culprit.service)?.detail ?? 'failed'}`;
  const undone = spec.rollbackScope === 'release' ? await rollBackPromoted(run, reason, culprit) : await rollBackSteps(run, [culprit], reason, culprit);
  if (undone.failed) return end(run, 'failed', `${reason}; ${undone.failed}`);
  return end(run, 'rolled-back', `${reason}; rolled back: ${undone.rolledBack.join(', ')}`);
}

/** Promotes one step and follows it to its outcome: deployed, judged, through its guard window (or rolled back, failed, triage). */
async function promote(run: Run, step: PlannedStep): Promise<DecidedOutcome> {
  const { ctx, releaseId, spec, steps } = run;
  await ctx.step(`promote-${step.n}`, async () => {
    await ctx.publish('release.step-started', { releaseId, of: steps.length, ...step }, { id: `${step.deploymentId}.step-started` });
    await ctx.publish(
      'deployer.deploy',
      { service: step.service, ref: step.ref, requestedBy: `${spec.requestedBy} (release ${releaseId}, step ${step.n}/${steps.length})`, dryRun: false, allowReverted: false, release: { releaseId, n: step.n, guardMs: step.guardMs } },
      { id: step.deploymentId },
    );
    return true;
  });
  const keepAlive = () => ctx.working();
  const live = await run.events.until((events) => {
    const outcome = stepOutcome(events, step);
    return isDecided(outcome) || (outcome.kind === 'waiting' && outcome.promoted) ? outcome : undefined;
  }, keepAlive);
  const record = run.doc.steps[step.n - 1]!;
  const completed = findDeployCompleted(run.events.all, step.deploymentId);
  if (completed) Object.assign(record, { status: 'promoted', mergeCommit: completed.data.mergeCommit, previousCommit: completed.data.previousCommit, promotedAt: completed.data.deployedAt });
  if (live.kind === 'waiting') await ctx.step(`promoted-${step.n}`, () => writeDoc(run, `step ${step.n}: ${step.service} ${step.ref} promoted at ${shortSha(completed!.data.mergeCommit)}`).then(() => true));

  const outcome: DecidedOutcome = isDecided(live) ? live : await run.events.until((events) => {
    const next = stepOutcome(events, step);
    return isDecided(next) ? next : undefined;
  }, keepAlive);
  const verdict = verdictOf(run.events.all, step.deploymentId);
  if (verdict) record.verdict = verdict;
  const guard = step.guardMs > 0 ? guardOf(run.events.all, step) : undefined;
  if (guard) record.guard = guard;
  if (outcome.kind === 'passed') {
    await ctx.step(`passed-${step.n}`, async () => {
      await ctx.publish('release.step-passed', { releaseId, of: steps.length, ...step, mergeCommit: outcome.mergeCommit }, { id: `${step.deploymentId}.step-passed` });
      await writeDoc(run, `step ${step.n}: ${step.service} passed its verdict${step.guardMs > 0 ? ` and its ${followupLabel(step.guardMs)} guard window` : ''}`);
      return true;
    });
    return outcome;
  }
  // Not passed: how the step stands is how it ended (still live when nothing undid it).
  if (outcome.kind === 'rolled-back') Object.assign(record, { status: 'rolled-back', revertCommit: outcome.revertCommit, rolledBackAt: rolledBackAt(run.events.all, step.deploymentId) });
  else if (outcome.kind === 'failed') record.status = outcome.promoted && !rollbackOutcome(run.events.all, step.deploymentId) ? 'promoted' : 'failed';
  else if (!completed) record.status = 'failed';
  record.detail = safeText(outcome.detail, { max: 1_000 });
  return outcome;
}

/** Rolls back every promoted step that is still live, newest first (rollbackScope `release`, or an abort with rollback). */
async function rollBackPromoted(run: Run, reason: string, culprit?: PlannedStep): Promise<{ rolledBack: string[]; failed?: string }> {
  const live = [...run.steps].reverse().filter((step) => run.doc.steps[step.n - 1]!.status === 'promoted');
  return rollBackSteps(run, live, reason, culprit);
}

/**
 * Asks the rollback agent to roll back each step in turn (rollback.rollback) and waits for each;
 * stops at the first that does not end rolled back. Only the culprit's change (the one the final
 * check found failing) is quarantined: the others were undone with their release, not found bad.
 */
async function rollBackSteps(run: Run, steps: PlannedStep[], reason: string, culprit?: PlannedStep): Promise<{ rolledBack: string[]; failed?: string }> {
  const { ctx, spec } = run;
  const rolledBack: string[] = [];
  for (const step of steps) {
    await ctx.step(`rollback-${step.n}`, async () => {
      const quarantine = step.deploymentId === culprit?.deploymentId;
      await ctx.publish('rollback.rollback', { service: step.service, deploymentId: step.deploymentId, reason, requestedBy: `${spec.requestedBy} (release ${run.releaseId})`, quarantine }, { id: `${step.deploymentId}.rollback-requested` });
      return true;
    });
    const outcome = await run.events.until((events) => rollbackOutcome(events, step.deploymentId), () => ctx.working());
    const record = run.doc.steps[step.n - 1]!;
    if (outcome.kind !== 'rolled-back') {
      if (outcome.kind === 'failed') record.status = 'failed';
      record.detail = safeText(outcome.detail, { max: 1_000 });
      return { rolledBack, failed: `step ${step.n} (${step.service}) could not be rolled back: ${outcome.detail}` };
    }
    Object.assign(record, { status: 'rolled-back', revertCommit: outcome.revertCommit, rolledBackAt: rolledBackAt(run.events.all, step.deploymentId), detail: safeText(reason, { max: 1_000 }) });
    await ctx.step(`rolled-back-${step.n}`, () => writeDoc(run, `step ${step.n}: ${step.service} rolled back`).then(() => true));
    rolledBack.push(`step ${step.n} (${step.service})`);
  }
  return { rolledBack };
}

async function stopForAbort(run: Run, abort: { rollback: boolean; requestedBy: string }, beforeStep: number): Promise<void> {
  const what = `aborted by ${abort.requestedBy} before step ${beforeStep}`;
  if (!abort.rollback) return end(run, 'aborted', `${what}; what was promoted stays`);
  const undone = await rollBackPromoted(run, `release ${run.releaseId} was ${what}, with rollback`);
  if (undone.failed) return end(run, 'failed', `${what}; ${undone.failed}`);
  return end(run, 'aborted', `${what}; rolled back (newest first): ${undone.rolledBack.join(', ') || 'nothing was promoted'}`);
}

async function triage(run: Run, detail: string, about: Record<string, unknown>, status: 'triage' | 'failed' = 'triage'): Promise<void> {
  const { ctx, releaseId } = run;
  await ctx.step('triage', async () => {
    const raised = escalation({
      kind: 'release-triage',
      severity: 'critical',
      summary: `release ${releaseId} stopped for manual triage: ${detail}`,
      details: { releaseId, ...about },
      about: [releaseId],
    });
    await ctx.publish('escalation.raised', raised.data, { id: raised.id });
    return true;
  });
  return end(run, status, detail);
}

/** A release refused before it began (bad input): its document says so, and release.completed, and the task is dead-lettered. */
async function refuse(run: Run, detail: string, hint: string): Promise<never> {
  if (!run.spec.dryRun) await end(run, 'failed', detail);
  else await announceEnd(run, 'failed', detail);
  throw new AgentbusError(ReleaseErrorCodes.releaseInvalid, detail, { retryable: false, hint });
}

/** The release's end: its document's last version, release.completed, and its leases freed. */
async function end(run: Run, status: ReleaseStatus, detail: string): Promise<void> {
  const { ctx, deps, releaseId } = run;
  skipPending(run);
  run.doc.status = status;
  run.doc.detail = safeText(detail, { max: 2_000 });
  run.doc.endedAt ??= new Date().toISOString();
  await ctx.step('ended', () => writeDoc(run, `release ${status}`).then(() => true));
  await announceEnd(run, status, detail);
  for (const name of new Set(run.steps.map((step) => step.service))) {
    await deps.leases.releaseIfOwner(name, releaseId).catch((error: unknown) => ctx.log.error({ err: describeError(error) }, `could not release the lease on ${name}`));
  }
  ctx.log.info({ status }, `release ${releaseId}: ${status}: ${detail}`);
}

/** A step still pending when the release ends was never promoted. */
function skipPending(run: Run): void {
  for (const record of run.doc.steps) if (record.status === 'pending') record.status = 'skipped';
}

async function announceEnd(run: Run, status: ReleaseStatus, detail: string): Promise<void> {
  skipPending(run);
  const steps = run.doc.steps.map(({ n, service, ref, deploymentId, status: stepStatus }) => ({ n, service, ref, deploymentId, status: stepStatus }));
  await run.ctx.step('announce-completed', () => run.ctx.publish('release.completed', { releaseId: run.releaseId, status, steps, detail }, { id: `${run.releaseId}.completed` }).then(() => true));
}

async function writeDoc(run: Run, reason: string): Promise<void> {
  await run.deps.state.put(releaseRunPath(run.releaseId), run.doc, { reason: safeText(reason, { max: 1_000 }), agent: 'release', taskId: run.releaseId });
}

/** Each step's ref, looked up in its service's clone after a fetch: what is not there is named. */
async function missingRefs(run: Run): Promise<string[]> {
  const missing: string[] = [];
  for (const step of run.steps) {
    const service = run.services.get(step.service)!;
    const repo = openServiceRepo(service);
    await repo.fetch();
    await repo.resolveCommit(step.ref).catch((error: unknown) => {
      if (!isGitError(error, 'unknown-ref')) throw error;
      missing.push(`step ${step.n}: ${step.ref} is not a branch, tag or commit of ${step.service} (${service.git.remote})`);
    });
  }
  return missing;
}

async function captureAlsoBaselines(run: Run): Promise<Record<string, MetricBaseline>> {
  const prometheus = run.deps.fleet.prometheus;
  const baselines: Record<string, MetricBaseline> = {};
  if (!prometheus) return baselines;
  for (const name of run.spec.alsoCheck) {
    const service = run.services.get(name)!;
    if (service.health.metrics.length) baselines[name] = await captureMetricBaseline(new PrometheusClient(prometheus), service.health.metrics);
  }
  return baselines;
}

/** Seed 001 step 8: every service of the release (against its step's baselines) and alsoCheck (against the release's start), judged at once. */
async function finalCheck(run: Run, alsoBaselines: Record<string, MetricBaseline>): Promise<Omit<Check, 'releaseId'>> {
  const startedAt = new Date().toISOString();
  const targets = [...run.steps.map((step) => ({ name: step.service, inRelease: true, deploymentId: step.deploymentId })), ...run.spec.alsoCheck.map((name) => ({ name, inRelease: false, deploymentId: undefined }))];
  const services = await Promise.all(
    targets.map(async ({ name, inRelease, deploymentId }) => {
      const completed = deploymentId ? findDeployCompleted(run.events.all, deploymentId) : undefined;
      const baselines = { baseline: completed?.data.baseline ?? null, metricBaseline: completed ? completed.data.metricBaseline : alsoBaselines[name] };
      const judgment = await judgeService(run.services.get(name)!, run.deps.fleet.prometheus, baselines, { startedAt, signal: run.ctx.signal });
      const failingChecks = [...judgment.fields.checks.filter((c) => !c.ok && c.severity === 'fatal').map((c) => c.name), ...judgment.metrics.filter((m) => m.severity === 'fatal' && m.outcome === 'failed').map((m) => m.name)];
      return { service: name, inRelease, outcome: judgment.outcome, failingChecks, ...(judgment.outcome === 'passed' ? {} : { detail: failingSummary(judgment) }) };
    }),
  );
  const outcome = services.some((s) => s.outcome === 'failed') ? 'failed' : services.some((s) => s.outcome === 'inconclusive') ? 'inconclusive' : 'passed';
  return { outcome, services, startedAt, finishedAt: new Date().toISOString() };
}

/**
 * A dry run: the deployer's own plan of each step (deploy.planned, from a dry-run deploy task),
 * the windows and checks around it, and what would be rolled back on each failure. Nothing is
 * leased, merged, scheduled or written; release.planned tells it all.
 */
async function planRelease(run: Run): Promise<void> {
  const { ctx, releaseId, steps } = run;
  const missing = await missingRefs(run);
  if (missing.length) return refuse(run, `${missing.join('; ')}; nothing was merged`, 'push the ref first, or fix its name in the release');
  for (const step of steps) {
    await ctx.step(`plan-${step.n}`, () =>
      ctx.publish('deployer.deploy', { service: step.service, ref: step.ref, requestedBy: `${run.spec.requestedBy} (release ${releaseId} dry run)`, dryRun: true, allowReverted: false, release: { releaseId, n: step.n, guardMs: step.guardMs } }, { id: planTaskId(step) }).then(() => true),
    );
  }
  const plans = await run.events.until((events) => {
    const found = steps.map((step) => events.find((e): e is Extract<IncidentEvent, { type: 'deploy.planned' | 'deploy.failed' }> => (e.type === 'deploy.planned' || e.type === 'deploy.failed') && e.data.deploymentId === planTaskId(step)));
    return found.every(Boolean) ? found.map((e) => e!) : undefined;
  }, () => ctx.working());
  const lines = planLines(run, plans);
  await ctx.publish('release.planned', { releaseId, steps: steps.map((step, i) => ({ ...step, plan: lines.steps[i]! })), finalCheck: lines.finalCheck, onFailure: lines.onFailure }, { id: `${releaseId}.planned` });
  ctx.log.info({ steps: steps.length }, `dry run of release ${releaseId}: nothing changed`);
}

function planTaskId(step: PlannedStep): string {
  return `${step.deploymentId}-plan`;
}

function findDeployCompleted(events: readonly IncidentEvent[], deploymentId: string): Extract<IncidentEvent, { type: 'deploy.completed' }> | undefined {
  return events.find((e): e is Extract<IncidentEvent, { type: 'deploy.completed' }> => e.type === 'deploy.completed' && e.data.deploymentId === deploymentId);
}

function verdictOf(events: readonly IncidentEvent[], deploymentId: string): 'passed' | 'failed' | 'inconclusive' | undefined {
  for (const e of events) {
    if ((e.type === 'health.passed' || e.type === 'health.failed' || e.type === 'health.inconclusive') && e.data.deploymentId === deploymentId && e.data.phase === 'post-deploy') return e.type.slice('health.'.length) as 'passed' | 'failed' | 'inconclusive';
  }
  return undefined;
}

function guardOf(events: readonly IncidentEvent[], step: PlannedStep): 'passed' | 'failed' | 'inconclusive' | 'cancelled' | undefined {
  for (const e of events) {
    if ((e.type === 'followup.passed' || e.type === 'followup.failed' || e.type === 'followup.inconclusive' || e.type === 'followup.cancelled') && e.data.deploymentId === step.deploymentId && e.data.offsetMs === step.guardMs) {
      return e.type.slice('followup.'.length) as 'passed' | 'failed' | 'inconclusive' | 'cancelled';
    }
  }
  return undefined;
}

function rolledBackAt(events: readonly IncidentEvent[], deploymentId: string): string | undefined {
  return events.find((e) => e.type === 'rollback.completed' && e.data.deploymentId === deploymentId)?.time;
}
