import { followupLabel, formatDuration, shortSha } from '@agentbus/contracts';
import type { IncidentEvent } from './events.ts';
import { summarizeIncident, type IncidentOutcome } from './summary.ts';
import { timelineOf } from './timeline.ts';
import type { ChangeFacts, DeadLetterFact, EscalationFact, Postmortem, TaskFact } from './postmortem-schema.ts';

/** What the post-mortem is built from: the bus's own records, plus git's account of the change. */
export interface PostmortemInput {
  incidentId: string;
  events: readonly IncidentEvent[];
  tasks?: readonly TaskFact[];
  deadLetters?: readonly DeadLetterFact[];
  change?: ChangeFacts | null;
}

const between = (from: string | undefined, to: string | undefined) => (from && to ? Math.max(0, Date.parse(to) - Date.parse(from)) : null);

export function buildPostmortem(input: PostmortemInput): Postmortem {
  const events = [...input.events].sort((a, b) => Date.parse(a.time) - Date.parse(b.time) || a.seq - b.seq);
  const s = summarizeIncident(input.incidentId, events);
  const of = <T extends IncidentEvent['type']>(type: T) => events.filter((e): e is Extract<IncidentEvent, { type: T }> => e.type === type);
  const failedAtDeploy = of('health.failed').find((e) => e.data.phase === 'post-deploy');
  const followupFailed = of('followup.failed')[0];
  // The failure the incident is about: the verdict after the deploy, or a follow-up hours later.
  const failed = failedAtDeploy ?? followupFailed;
  const foundBy = !failedAtDeploy && followupFailed ? `the ${followupLabel(followupFailed.data.offsetMs)} follow-up` : null;
  const passed = of('health.passed').find((e) => e.data.phase === 'post-deploy');
  const verdict = failedAtDeploy ?? passed;
  const rollbackStarted = of('rollback.started')[0];
  const rollbackCompleted = of('rollback.completed')[0];
  const rollbackFailed = of('rollback.failed')[0];
  const skipped = of('rollback.skipped')[0];
  const deployFailed = of('deploy.failed')[0];
  const recovered = of('health.recovered').at(-1);
  const failingChecks = (failed?.data.checks ?? []).filter((c) => !c.ok);
  const fatal = failingChecks.filter((c) => c.severity === 'fatal');
  const failingMetrics = (failed?.data.metrics ?? []).filter((m) => m.outcome === 'failed');
  const fatalMetrics = failingMetrics.filter((m) => m.severity === 'fatal');
  const resolvedKeys = new Map(of('escalation.resolved').map((e) => [e.data.dedupKey, e.time]));
  const escalations: EscalationFact[] = of('escalation.raised').map((e) => ({
    dedupKey: e.data.dedupKey,
    kind: e.data.kind,
    severity: e.data.severity,
    summary: e.data.summary,
    raisedAt: e.time,
    resolvedAt: resolvedKeys.get(e.data.dedupKey) ?? null,
  }));
  const open = escalations.some((e) => e.resolvedAt === null);
  const service = s.service ?? null;
  const healthyAt = rollbackCompleted?.time ?? recovered?.time;
  const degradedFrom = of('deploy.completed')[0]?.time ?? of('escalation.raised').find((e) => e.data.kind === 'prolonged-unhealthy')?.time;
  const timeToRollBackMs = between(failed?.time, rollbackCompleted?.time);
  const failures = [...fatal.map((c) => `${c.name}: ${c.error ?? 'failed'}`), ...fatalMetrics.map((m) => m.reason ?? `${m.name}: failed`)];
  const failureReason = failures.length ? failures.join('; ') : (deployFailed?.data.error ?? rollbackFailed?.data.error ?? skipped?.data.detail ?? escalations[0]?.summary ?? null);
  const what = s.ref ? `deploy of ${s.ref}` : escalations[0] ? escalations[0].kind.replace(/-/g, ' ') : 'incident';
  const outcomeWords: Record<IncidentOutcome, string> = {
    'rolled-back': 'rolled back',
    'rollback-failed': 'rollback failed',
    'rollback-skipped': 'not rolled back (escalated)',
    healthy: 'healthy',
    'deploy-failed': 'deploy failed',
    planned: 'dry run',
    inconclusive: 'could not be judged (escalated)',
    'in-progress': escalations.length ? 'escalated' : 'in progress',
  };
  const title = `${service ?? 'agentbus'}: ${what} — ${outcomeWords[s.outcome]}`;

  const decisions: string[] = [];
  if (deployFailed) decisions.push(`The deployer stopped at ${deployFailed.data.stage}${deployFailed.data.pushed ? ' after the merge reached the remote' : '; nothing reached the remote'}: ${deployFailed.data.error}`);
  const judged = [
    ...fatal.map((c) => `${c.name} failed ${c.maxConsecutiveFailures} consecutive probes of ${c.probes} (threshold ${c.failureThreshold})${c.latencyP95Ms !== null && c.latencyThresholdMs !== null && c.latencyP95Ms > c.latencyThresholdMs ? `, p95 ${c.latencyP95Ms} ms over ${c.latencyThresholdMs} ms` : ''}`),
    ...fatalMetrics.map((m) => `${m.reason ?? `${m.name} failed`} (${m.query})`),
  ].join('; ');
  if (passed) decisions.push(`The health monitor found the deployment healthy after a ${formatDuration(passed.data.stabilizationMs)} stabilization window.`);
  if (failedAtDeploy) decisions.push(`The health monitor judged the deployment after a ${formatDuration(failedAtDeploy.data.stabilizationMs)} stabilization window: ${judged || 'a fatal check failed'}.`);
  else if (followupFailed && foundBy) decisions.push(`It was found by ${foundBy}, ${formatDuration(followupFailed.data.offsetMs)} after the deployment was judged healthy: ${judged || 'a fatal check failed'}.`);
  if (rollbackStarted) decisions.push(`The failure was attributed to this deployment (the service was healthy before it, it was the latest deployment, the failing checks are the service's own), so the rollback agent rolled it back by ${rollbackStarted.data.strategy}.`);
  if (rollbackCompleted) decisions.push(`It reverted ${shortSha(rollbackCompleted.data.mergeCommit)}${rollbackCompleted.data.revertCommit ? ` with ${shortSha(rollbackCompleted.data.revertCommit)} (pushed, remote verified)` : ''}, redeployed and re-probed until healthy (${formatDuration(rollbackCompleted.data.durations.verifyMs)}).`);
  if (rollbackFailed) decisions.push(`The rollback failed at ${rollbackFailed.data.stage}: ${rollbackFailed.data.error}. A human was paged.`);
  if (skipped) decisions.push(`The rollback agent did not roll back (${skipped.data.reason}): ${skipped.data.detail}. A human was paged instead: reverting a commit that did not cause the failure would make things worse (seed 002, lesson 2).`);
  for (const e of escalations) decisions.push(`Escalated (${e.kind}, ${e.severity}) at ${e.raisedAt}${e.resolvedAt ? `; resolved at ${e.resolvedAt}` : '; still open'}.`);

  const actionItems: string[] = [];
  for (const m of fatalMetrics) actionItems.push(`Find out why ${m.name} regressed (${m.reason ?? 'failed'})${input.change ? ` after "${input.change.subject}" (${shortSha(input.change.mergeCommit)})` : ''}; the HTTP checks did not see it.`);
  if (foundBy) actionItems.push(`The verdict after the deploy passed and ${foundBy} caught it: look for what degrades over time or under load (seed 003), and test it before merge.`);
  for (const c of fatal) {
    actionItems.push(`Fix ${c.url} (${c.name}): ${c.error ?? 'failed'}${input.change ? ` — introduced by "${input.change.subject}" (${shortSha(input.change.mergeCommit)}, ${input.change.author})` : ''}; re-deploy the fix through agentbus.`);
    actionItems.push(`Add a test that exercises ${c.url} before merge: the ${c.name} check caught it only in production.`);
  }
  if (failedAtDeploy && s.durations.detectedMs !== undefined) {
    const window = failedAtDeploy.data.stabilizationMs;
    actionItems.push(`Detection took ${formatDuration(s.durations.detectedMs)} after the merge against a configured stabilization window of ${formatDuration(window)}${s.durations.detectedMs > window + 60_000 ? ': look at what slowed detection down' : ''}.`);
  }
  if (skipped?.data.reason === 'baseline-unhealthy') actionItems.push(`Find out why ${service} was already failing before the deploy; the deployed change ${shortSha(s.mergeCommit)} was not reverted and may be fine.`);
  else if (skipped) actionItems.push(`Decide by hand whether ${shortSha(s.mergeCommit)} should be reverted (${skipped.data.reason}).`);
  if (rollbackFailed) actionItems.push(`Restore ${service} by hand: the rollback stopped at ${rollbackFailed.data.stage}.`);
  if (deployFailed) actionItems.push(`Fix the cause of the failed deploy (${deployFailed.data.stage}) and redrive the task: agentbus dlq list.`);
  for (const letter of input.deadLetters ?? []) actionItems.push(`Look at dead letter ${letter.seq} (${letter.consumer}, ${letter.reason}): agentbus dlq show ${letter.seq}.`);
  for (const e of escalations.filter((x) => x.resolvedAt === null)) actionItems.push(`Resolve the ${e.kind} escalation (page ${e.dedupKey}).`);

  const impact = {
    startedAt: s.startedAt ?? null,
    endedAt: s.endedAt ?? null,
    degradedMs: between(degradedFrom, healthyAt),
    timeToDetectMs: s.durations.detectedMs ?? null,
    timeToRollBackMs,
    timeToHealthyMs: s.durations.healthyMs ?? null,
  };
  const summary = [
    s.mergeCommit ? `${s.requestedBy ?? 'someone'} had ${s.ref} merged into ${service} as ${shortSha(s.mergeCommit)}.` : '',
    failed ? `${foundBy ? `${foundBy[0]!.toUpperCase()}${foundBy.slice(1)} found that` : 'After the deploy,'} ${[...fatal.map((c) => `${c.name} (${c.url})`), ...fatalMetrics.map((m) => m.name)].join(', ')} failed: ${failureReason}.` : '',
    rollbackCompleted ? `agentbus reverted it and the service was healthy again ${formatDuration(impact.timeToHealthyMs)} after the merge (degraded for ${formatDuration(impact.degradedMs)}), with no human involved.` : '',
    skipped ? `agentbus did not roll back (${skipped.data.reason}) and paged a human.` : '',
    rollbackFailed ? `The rollback failed at ${rollbackFailed.data.stage}; a human was paged.` : '',
    deployFailed ? `The deploy failed at ${deployFailed.data.stage}.` : '',
    !s.mergeCommit && escalations[0] ? `${escalations[0].summary}.` : '',
  ]
    .filter(Boolean)
    .join(' ');

  return {
    incidentId: input.incidentId,
    title,
    service,
    outcome: s.outcome,
    status: open ? 'open' : 'resolved',
    summary,
    impact,
    timeline: timelineOf(events),
    change: {
      ref: s.ref ?? null,
      requestedBy: s.requestedBy ?? null,
      mergeCommit: s.mergeCommit ?? null,
      previousCommit: s.previousCommit ?? null,
      revertCommit: s.revertCommit ?? null,
      restoredCommit: s.restoredCommit ?? null,
      details: input.change ?? null,
    },
    failingChecks,
    failingMetrics,
    foundBy,
    baseline: failed?.data.baseline ?? verdict?.data.baseline ?? null,
    judgedWith: verdict ? { stabilizationMs: verdict.data.stabilizationMs, probes: verdict.data.checks[0]?.probes ?? null } : null,
    decisions,
    actionItems,
    escalations,
    tasks: [...(input.tasks ?? [])],
    deadLetters: [...(input.deadLetters ?? [])],
    ticket: {
      deploymentSha: s.mergeCommit ?? null,
      rolledBackTo: s.restoredCommit ?? null,
      failureReason,
      failingEndpoint: fatal[0]?.url ?? null,
      timeToDetectMs: impact.timeToDetectMs,
      timeToRollBackMs,
    },
    updatedAt: events.at(-1)?.time ?? null,
    eventCount: events.length,
  };
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The post-mortem as Markdown, for people and for the folder of post-mortems. */
export function renderPostmortemMarkdown(pm: Postmortem): string {
  const lines: string[] = [];
  lines.push(`# ${pm.title}`, '');
  lines.push(`Incident \`${pm.incidentId}\` · outcome **${pm.outcome}** · ${pm.status === 'open' ? '**open** (a human must act)' : 'resolved'} · written by agentbus from ${pm.eventCount} events on the bus`, '');
  lines.push('## Summary', '', pm.summary, '');
  lines.push('## Impact', '');
  lines.push('| | |', '|---|---|');
  lines.push(`| started | ${pm.impact.startedAt ?? 'n/a'} |`);
  lines.push(`| ended | ${pm.impact.endedAt ?? 'n/a'} |`);
  lines.push(`| time degraded | ${formatDuration(pm.impact.degradedMs)} |`);
  lines.push(`| time to detect (from the merge) | ${formatDuration(pm.impact.timeToDetectMs)} |`);
  lines.push(`| time to roll back (from detection) | ${formatDuration(pm.impact.timeToRollBackMs)} |`);
  lines.push(`| time to healthy (from the merge) | ${formatDuration(pm.impact.timeToHealthyMs)} |`, '');
  lines.push('## Timeline', '', '| Time | Event | Actor |', '|---|---|---|');
  for (const row of pm.timeline) lines.push(`| ${row.time.slice(11, 23)} | ${cell(row.event)} | ${row.actor} |`);
  lines.push('');
  lines.push('## The change', '');
  if (pm.change.mergeCommit) {
    lines.push(`- ref: \`${pm.change.ref}\`, requested by ${pm.change.requestedBy ?? 'n/a'}`);
    lines.push(`- merge commit: \`${pm.change.mergeCommit}\` (on top of \`${pm.change.previousCommit ?? 'n/a'}\`)`);
    if (pm.change.details) {
      const d = pm.change.details;
      lines.push(`- author: ${d.author}, ${d.authoredAt}`);
      lines.push(`- message: ${d.subject}`);
      lines.push(`- files changed: ${d.totals.files} (+${d.totals.added} −${d.totals.deleted})`);
      for (const f of d.files) lines.push(`  - \`${f.path}\` ${f.added === null ? '(binary)' : `+${f.added} −${f.deleted}`}`);
    }
    lines.push(`- revert commit: ${pm.change.revertCommit ? `\`${pm.change.revertCommit}\`` : 'none'}; running now: \`${pm.change.restoredCommit ?? pm.change.mergeCommit}\``);
  } else {
    lines.push('No deployment is part of this incident.');
  }
  lines.push('');
  lines.push('## Failing checks', '');
  if (pm.failingChecks.length) {
    lines.push('| Check | URL | Severity | Status (expected) | p95 latency (threshold) | Failed probes | Error |', '|---|---|---|---|---|---|---|');
    for (const c of pm.failingChecks) {
      lines.push(`| ${c.name} | ${c.url} | ${c.severity} | ${c.lastStatus ?? 'no answer'} (${c.expectedStatus}) | ${c.latencyP95Ms ?? 'n/a'} ms (${c.latencyThresholdMs ?? 'none'}) | ${c.failures}/${c.probes}, ${c.maxConsecutiveFailures} in a row (threshold ${c.failureThreshold}) | ${cell(c.error ?? '')} |`);
    }
  } else {
    lines.push(pm.failingMetrics.length ? 'No HTTP check failed.' : 'None.');
  }
  lines.push('');
  if (pm.failingMetrics.length) {
    lines.push('### Failing metric checks', '', '| Check | Query | Severity | Value | Before the deploy | Limits | Why |', '|---|---|---|---|---|---|---|');
    for (const m of pm.failingMetrics) {
      const limits = [m.max !== null ? `max ${m.max}` : '', m.min !== null ? `min ${m.min}` : '', m.maxRatio !== null ? `≤ ${m.maxRatio}× before` : '', m.maxIncrease !== null ? `≤ +${m.maxIncrease}` : ''].filter(Boolean).join(', ');
      lines.push(`| ${m.name} | \`${cell(m.query)}\` | ${m.severity} | ${m.value ?? 'n/a'} | ${m.baselineValue ?? 'n/a'} | ${limits || (m.newSeries ? 'no new series' : '-')} | ${cell(m.reason ?? '')} |`);
    }
    lines.push('');
  }
  lines.push('### Baseline before the deploy', '');
  if (pm.baseline) {
    lines.push(`${pm.baseline.healthy ? 'Healthy' : '**Unhealthy**'} at ${pm.baseline.checkedAt}: ${pm.baseline.checks.map((c) => `${c.name} ${c.ok ? 'ok' : `failing (${c.error ?? 'failed'})`}${c.latencyP95Ms !== null ? `, p95 ${c.latencyP95Ms} ms` : ''}`).join('; ')}.`);
  } else {
    lines.push('No baseline was recorded.');
  }
  lines.push('');
  lines.push('## What the platform did and why', '', ...pm.decisions.map((d) => `- ${d}`), '');
  lines.push('## Action items', '', ...(pm.actionItems.length ? pm.actionItems.map((a) => `- [ ] ${a}`) : ['None.']), '');
  if (pm.escalations.length) {
    lines.push('## Escalations', '', '| Kind | Severity | Raised | Resolved | Summary |', '|---|---|---|---|---|');
    for (const e of pm.escalations) lines.push(`| ${e.kind} | ${e.severity} | ${e.raisedAt} | ${e.resolvedAt ?? 'open'} | ${cell(e.summary)} |`);
    lines.push('');
  }
  if (pm.deadLetters.length) {
    lines.push('## Dead letters', '', ...pm.deadLetters.map((l) => `- ${l.seq}: ${l.consumer}, ${l.reason}: ${l.error}`), '');
  }
  return `${lines.join('\n')}\n`;
}
