import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPostmortem, postmortemSchema, renderPostmortemMarkdown, summarizeIncident, timelineOf, type IncidentEvent } from '@agentbus/incident';
import { agentbusRegistry, validateData, type AgentbusRegistry, type CheckResult, type MessageTypeOf } from '@agentbus/contracts';

const merge = 'a'.repeat(40);
const previous = 'b'.repeat(40);
const revert = 'c'.repeat(40);
const incident = 'inc-1';
const at = (ms: number) => new Date(Date.UTC(2026, 3, 26, 3, 53, 0) + ms).toISOString();

const failingCheck: CheckResult = {
  name: 'health',
  url: 'http://127.0.0.1:9400/health',
  severity: 'fatal',
  ok: false,
  probes: 3,
  failures: 3,
  maxConsecutiveFailures: 3,
  failureThreshold: 2,
  lastStatus: null,
  expectedStatus: 200,
  latencyP95Ms: null,
  latencyThresholdMs: 500,
  latenciesMs: [1, 1, 1],
  error: '3 consecutive failed probes (threshold 2): connection refused',
};
const healthyBaseline = { healthy: true, checkedAt: at(-5_000), checks: [{ ...failingCheck, ok: true, failures: 0, maxConsecutiveFailures: 0, lastStatus: 200, latencyP95Ms: 4, error: null }] };

let seq = 0;
/** An event as read back from the stream: its data through the type's schema (defaults filled in). */
function event(type: string, ms: number, source: string, data: Record<string, unknown>): IncidentEvent {
  seq++;
  return { id: `${incident}.${seq}`, type, source, time: at(ms), correlationId: incident, data: validateData(agentbusRegistry, type as MessageTypeOf<AgentbusRegistry>, data), seq } as IncidentEvent;
}

function rolledBackIncident(): IncidentEvent[] {
  seq = 0;
  const deployment = { deploymentId: incident, service: 'primerouter', ref: 'feature/phase2', branch: 'master', requestedBy: 'merger' };
  return [
    event('task.started', 0, 'deployer', { agent: 'deployer', taskType: 'deployer.deploy', taskId: incident, attempt: 1 }),
    event('deploy.merged', 200, 'deployer', { ...deployment, mergeCommit: merge, previousCommit: previous, pushedAt: at(200) }),
    event('deploy.completed', 900, 'deployer', { ...deployment, mergeCommit: merge, previousCommit: previous, mergedAt: at(200), deployedAt: at(900), deployCommandMs: 650 }),
    event('health.failed', 61_000, 'health-monitor', {
      deploymentId: incident, service: 'primerouter', phase: 'post-deploy', mergeCommit: merge, baseline: healthyBaseline, checks: [failingCheck],
      stabilizationMs: 60_000, startedAt: at(900), finishedAt: at(61_000), probeTimeoutMs: 0, probeWaitMs: 200,
    }),
    event('rollback.started', 61_100, 'rollback', { deploymentId: incident, service: 'primerouter', mergeCommit: merge, strategy: 'git-revert', reason: 'health failed', failingChecks: ['health'] }),
    event('rollback.reverted', 61_500, 'rollback', { deploymentId: incident, service: 'primerouter', mergeCommit: merge, strategy: 'git-revert', revertCommit: revert, restoredCommit: revert, pushedAt: at(61_500) }),
    event('rollback.completed', 62_600, 'rollback', {
      deploymentId: incident, service: 'primerouter', mergeCommit: merge, strategy: 'git-revert', revertCommit: revert, restoredCommit: revert,
      checks: [{ ...failingCheck, ok: true, failures: 0, maxConsecutiveFailures: 0, lastStatus: 200, error: null }],
      durations: { revertMs: 500, redeployMs: 600, verifyMs: 300, verifyWaitMs: 0, totalMs: 1_600 },
    }),
  ];
}

test('a rolled-back deployment: summary, impact from the events, the timeline in order, decisions, action items and ticket facts', () => {
  const events = rolledBackIncident();
  const pm = buildPostmortem({
    incidentId: incident,
    events: [...events].reverse(), // order of arrival does not matter
    change: { mergeCommit: merge, author: 'Coding Agent <agent@example>', authoredAt: at(-60_000), subject: 'Add the humanrail channel', body: '', files: [{ path: 'server.mjs', added: 12, deleted: 3 }], totals: { files: 1, added: 12, deleted: 3 } },
  });
  assert.equal(pm.title, 'primerouter: deploy of feature/phase2 — rolled back');
  assert.equal(pm.outcome, 'rolled-back');
  assert.equal(pm.status, 'resolved');
  assert.deepEqual(pm.impact, {
    startedAt: at(0),
    endedAt: at(62_600),
    degradedMs: 62_600 - 900,
    timeToDetectMs: 61_000 - 200,
    timeToRollBackMs: 62_600 - 61_000,
    timeToHealthyMs: 62_600 - 200,
  });
  assert.deepEqual(pm.timeline.map((row) => row.type), events.map((e) => e.type), 'every event, in time order');
  assert.deepEqual(pm.timeline.map((row) => row.actor), ['deployer', 'deployer', 'deployer', 'health-monitor', 'rollback', 'rollback', 'rollback']);
  assert.match(pm.timeline[5]!.event, /git revert -m 1 aaaaaaaaaaaa → cccccccccccc; pushed, remote verified/);
  assert.deepEqual(pm.change, { ref: 'feature/phase2', requestedBy: 'merger', mergeCommit: merge, previousCommit: previous, revertCommit: revert, restoredCommit: revert, details: pm.change.details });
  assert.deepEqual(pm.failingChecks, [failingCheck]);
  assert.deepEqual(pm.baseline, healthyBaseline);
  assert.ok(pm.decisions.some((d) => /attributed to this deployment/.test(d)));
  assert.ok(pm.actionItems.some((a) => a.startsWith('Fix http://127.0.0.1:9400/health (health): 3 consecutive failed probes') && /"Add the humanrail channel" \(aaaaaaaaaaaa, Coding Agent/.test(a)));
  assert.ok(pm.actionItems.some((a) => /Detection took 1 min 00 s after the merge against a configured stabilization window of 1 min 00 s/.test(a)));
  assert.deepEqual(pm.ticket, {
    deploymentSha: merge,
    rolledBackTo: revert,
    failureReason: 'health: 3 consecutive failed probes (threshold 2): connection refused',
    failingEndpoint: 'http://127.0.0.1:9400/health',
    timeToDetectMs: 60_800,
    timeToRollBackMs: 1_600,
  });
  assert.equal(pm.updatedAt, at(62_600));
  assert.deepEqual(buildPostmortem({ incidentId: incident, events, change: pm.change.details }), pm, 'a pure function of its input');

  const markdown = renderPostmortemMarkdown(pm);
  assert.match(markdown, /^# primerouter: deploy of feature\/phase2 — rolled back$/m);
  assert.match(markdown, /\| time to detect \(from the merge\) \| 1 min 00 s \|/);
  assert.match(markdown, /\| 03:54:01\.000 \| primerouter health check failed: health http:\/\/127\.0\.0\.1:9400\/health: 3 consecutive/);
  assert.match(markdown, /- `server\.mjs` \+12 −3/);
  assert.match(markdown, /\| health \| http:\/\/127\.0\.0\.1:9400\/health \| fatal \| no answer \(200\) \| n\/a ms \(500\) \| 3\/3, 3 in a row \(threshold 2\) \|/);
});

test('a skipped rollback with an open escalation: status open, the reason, and the action item to decide by hand', () => {
  const events = rolledBackIncident().slice(0, 4);
  const unhealthyBaseline = { ...healthyBaseline, healthy: false };
  (events[3]!.data as { baseline: unknown }).baseline = unhealthyBaseline;
  events.push(
    event('rollback.skipped', 61_100, 'rollback', { deploymentId: incident, service: 'primerouter', mergeCommit: merge, reason: 'baseline-unhealthy', detail: 'primerouter was already unhealthy' }),
    event('escalation.raised', 61_150, 'rollback', { dedupKey: 'agentbus.unattributed-failure.inc-1', kind: 'unattributed-failure', severity: 'error', service: 'primerouter', summary: 'not rolling back', details: {} }),
  );
  const pm = buildPostmortem({ incidentId: incident, events });
  assert.equal(pm.outcome, 'rollback-skipped');
  assert.equal(pm.status, 'open');
  assert.equal(pm.title, 'primerouter: deploy of feature/phase2 — not rolled back (escalated)');
  assert.ok(pm.actionItems.some((a) => /Find out why primerouter was already failing before the deploy/.test(a)));
  assert.ok(pm.actionItems.some((a) => /Resolve the unattributed-failure escalation \(page agentbus\.unattributed-failure\.inc-1\)/.test(a)));
  assert.equal(pm.impact.degradedMs, null, 'not recovered');

  events.push(event('escalation.resolved', 200_000, 'notifier', { dedupKey: 'agentbus.unattributed-failure.inc-1', service: 'primerouter', summary: 'healthy again' }));
  const later = buildPostmortem({ incidentId: incident, events });
  assert.equal(later.status, 'resolved');
  assert.equal(later.escalations[0]!.resolvedAt, at(200_000));
  assert.notDeepEqual(later, pm, 'a new event changes the post-mortem');
});

test('summary and timeline agree with the post-mortem on the same events', () => {
  const events = rolledBackIncident();
  const summary = summarizeIncident(incident, events);
  assert.equal(summary.durations.detectedMs, 60_800);
  assert.equal(summary.durations.healthyMs, 62_400);
  assert.equal(summary.durations.platformMs, 62_600 - 60_000 - 200 - 650 - 600);
  assert.equal(timelineOf(events).length, events.length);
});

test('the post-mortem document has a schema: what buildPostmortem writes reads back through JSON as it was; what is not a post-mortem is refused', () => {
  const pm = buildPostmortem({ incidentId: incident, events: rolledBackIncident(), deadLetters: [{ seq: 4, consumer: 'rollback', reason: 'handler-failed', error: 'boom', type: undefined }] });
  const stored = JSON.parse(JSON.stringify(pm)) as unknown;
  const read = postmortemSchema.parse(stored);
  assert.deepEqual(JSON.parse(JSON.stringify(read)), stored);
  assert.equal(read.outcome, 'rolled-back');

  assert.equal(postmortemSchema.safeParse({ incidentId: incident, impact: {} }).success, false, 'a document someone else wrote there');
  assert.equal(postmortemSchema.safeParse({ ...(stored as object), outcome: 'exploded' }).success, false, 'an outcome agentbus does not have');
  assert.equal(postmortemSchema.safeParse({ ...(stored as object), impact: { ...pm.impact, degradedMs: '61 s' } }).success, false, 'a duration that is not a number');
});

test('a metric regression found by a follow-up hours later: who found it, the failing metric with its baseline, the timeline and the Markdown table', () => {
  seq = 0;
  const deployment = { deploymentId: incident, service: 'primerouter', ref: 'feature/bulk-routing', branch: 'master', requestedBy: 'merger' };
  const verdictFields = { baseline: healthyBaseline, checks: [{ ...failingCheck, ok: true, failures: 0, maxConsecutiveFailures: 0, lastStatus: 200, error: null }], probeTimeoutMs: 0, probeWaitMs: 100 };
  const errorRate = {
    name: 'error-rate', query: 'sum(rate(errors_total[1m])) / sum(rate(requests_total[1m]))', severity: 'fatal', outcome: 'failed', value: 0.31, baselineValue: 0.001,
    max: 0.05, min: null, maxRatio: 2, maxIncrease: 0.01, attempts: 1, evaluatedAt: at(4 * 3_600_000),
    reason: 'error-rate 0.31 > max 0.05; before the deploy 0.001 (ratio 310× > 2×, increase +0.309 > +0.01)',
  };
  const which = { deploymentId: incident, service: 'primerouter', mergeCommit: merge, n: 2, offsetMs: 4 * 3_600_000, dueAt: at(4 * 3_600_000 + 61_000) };
  const events = [
    event('deploy.merged', 200, 'deployer', { ...deployment, mergeCommit: merge, previousCommit: previous, pushedAt: at(200) }),
    event('deploy.completed', 900, 'deployer', { ...deployment, mergeCommit: merge, previousCommit: previous, mergedAt: at(200), deployedAt: at(900), deployCommandMs: 650 }),
    event('health.passed', 61_000, 'health-monitor', { deploymentId: incident, service: 'primerouter', phase: 'post-deploy', mergeCommit: merge, stabilizationMs: 60_000, startedAt: at(900), finishedAt: at(61_000), ...verdictFields, metrics: [{ ...errorRate, outcome: 'passed', value: 0.001, reason: null }] }),
    event('followup.scheduled', 61_010, 'health-monitor', { deploymentId: incident, service: 'primerouter', mergeCommit: merge, followups: [{ n: 1, offsetMs: 3_600_000, dueAt: at(3_661_000) }, { n: 2, offsetMs: 4 * 3_600_000, dueAt: at(4 * 3_600_000 + 61_000) }] }),
    event('followup.passed', 3_661_200, 'health-monitor', { ...which, n: 1, offsetMs: 3_600_000, dueAt: at(3_661_000), ...verdictFields, metrics: [], startedAt: at(3_661_000), finishedAt: at(3_661_200), firedAt: at(3_661_000) }),
    event('followup.failed', 4 * 3_600_000 + 61_300, 'health-monitor', { ...which, ...verdictFields, metrics: [errorRate], startedAt: at(4 * 3_600_000 + 61_000), finishedAt: at(4 * 3_600_000 + 61_300), firedAt: at(4 * 3_600_000 + 61_000) }),
    event('rollback.started', 4 * 3_600_000 + 61_400, 'rollback', { deploymentId: incident, service: 'primerouter', mergeCommit: merge, strategy: 'git-revert', reason: 'metric check failed after deploy of feature/bulk-routing (found by the +4 h follow-up): …', failingChecks: ['error-rate'] }),
    event('rollback.completed', 4 * 3_600_000 + 62_600, 'rollback', {
      deploymentId: incident, service: 'primerouter', mergeCommit: merge, strategy: 'git-revert', revertCommit: revert, restoredCommit: revert, checks: verdictFields.checks,
      durations: { revertMs: 500, redeployMs: 600, verifyMs: 100, verifyWaitMs: 0, totalMs: 1_200 },
    }),
  ];
  const pm = buildPostmortem({ incidentId: incident, events });
  assert.equal(pm.outcome, 'rolled-back');
  assert.equal(pm.foundBy, 'the +4 h follow-up');
  assert.deepEqual(pm.failingChecks, []);
  assert.deepEqual(pm.failingMetrics.map((m) => [m.name, m.value, m.baselineValue]), [['error-rate', 0.31, 0.001]]);
  assert.equal(pm.impact.timeToDetectMs, 4 * 3_600_000 + 61_300 - 200, 'detected by the follow-up, hours after the merge');
  assert.match(pm.summary, /The \+4 h follow-up found that error-rate failed: error-rate 0\.31 > max 0\.05; before the deploy 0\.001/);
  assert.ok(pm.decisions.includes('The health monitor found the deployment healthy after a 1 min 00 s stabilization window.'), pm.decisions.join('\n'));
  assert.ok(pm.decisions.some((d) => d.startsWith('It was found by the +4 h follow-up, 4 h 00 min after the deployment was judged healthy: error-rate 0.31 > max 0.05')), pm.decisions.join('\n'));
  assert.ok(pm.actionItems.some((a) => a.startsWith('The verdict after the deploy passed and the +4 h follow-up caught it')), pm.actionItems.join('\n'));
  assert.deepEqual(pm.timeline.filter((row) => row.type.startsWith('followup.')).map((row) => row.event), [
    'follow-up checks scheduled at +1 h, +4 h',
    'the +1 h follow-up found primerouter healthy',
    'the +4 h follow-up found primerouter failing: error-rate 0.31 > max 0.05; before the deploy 0.001 (ratio 310× > 2×, increase +0.309 > +0.01)',
  ]);
  const markdown = renderPostmortemMarkdown(pm);
  assert.match(markdown, /## Failing checks\n\nNo HTTP check failed\.\n\n### Failing metric checks\n/);
  assert.match(markdown, /\| error-rate \| `sum\(rate\(errors_total\[1m\]\)\) \/ sum\(rate\(requests_total\[1m\]\)\)` \| fatal \| 0\.31 \| 0\.001 \| max 0\.05, ≤ 2× before, ≤ \+0\.01 \| error-rate 0\.31 > max 0\.05;/);
  assert.deepEqual(postmortemSchema.parse(JSON.parse(JSON.stringify(pm))), pm, 'the document reads back as written');
});
