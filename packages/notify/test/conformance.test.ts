import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_MESSAGE_DEPTH, type CheckResult } from '@agentbus/contracts';
import { addressPagerDutyEvent, chatUpdateOf, discordMessage, pagerDutyResolve, pagerDutyTrigger, slackMessage, ticketRequest, type ChatUpdate, type TicketFacts } from '@agentbus/notify';
import { discordProblems, githubIssueProblems, pagerDutyProblems, slackProblems } from './conformance.ts';
import { CONTROL, emojiAtEveryCut, hostileTexts, hostileTextsUpTo } from './hostile.ts';
import { completed, envelope, failingCheck, healthCheck, healthPassed, INCIDENT, MERGE, merged, REVERT, stored, deployment } from './fixtures.ts';

const ROUTING_KEY = 'R0123456789ABCDEFGHIJKLMNOPQRSTU';

function assertConforms(problems: string[], what: string): void {
  assert.deepEqual(problems, [], `${what}:\n  ${problems.slice(0, 12).join('\n  ')}`);
}

const describe = (text: string) => `${JSON.stringify(text.slice(0, 24))}… (${text.length})`;

/** An update whose every text is `text`, with `fields` fields. */
const updateOf = (text: string, fields: number): ChatUpdate => ({
  incidentId: text || INCIDENT,
  eventId: 'e1',
  service: 'primerouter',
  tone: 'critical',
  title: text,
  text,
  fields: Array.from({ length: fields }, (_, i) => ({ label: `${text}${i}`, value: text || 'v' })),
  time: '2024-05-01T03:53:15.000Z',
});

test('conformance: every Slack and Discord message built from long or hostile text keeps to every limit of its format', () => {
  for (const text of hostileTexts()) {
    for (const fields of [0, 1, 10, 30]) {
      const update = updateOf(text, fields);
      assertConforms(slackProblems(slackMessage(update)), `slack, ${fields} fields of ${describe(text)}`);
      assertConforms(discordProblems(discordMessage(update)), `discord, ${fields} fields of ${describe(text)}`);
    }
  }
});

test('conformance: a cut never leaves half an emoji or half an entity, and the escaped text still fits', () => {
  for (const [limit, shifts] of [
    [3_000, 6],
    [2_000, 6],
    [256, 6],
    [4_096, 6],
  ] as const) {
    for (const text of [...emojiAtEveryCut(limit + 40, shifts), ...Array.from({ length: 6 }, (_, k) => 'a'.repeat(k) + '&'.repeat(limit))]) {
      const update: ChatUpdate = { ...updateOf(text, 3), incidentId: text };
      const slack = slackMessage(update);
      assertConforms(slackProblems(slack), `slack at ${limit}, ${describe(text)}`);
      assert.ok(!/&(?!amp;|lt;|gt;)/.test(JSON.stringify(slack)), 'no cut entity anywhere');
      assertConforms(discordProblems(discordMessage(update)), `discord at ${limit}, ${describe(text)}`);
    }
  }
});

test('conformance: a health.passed with 200 failing warning checks fits Discord\'s 6,000 characters and Slack\'s block text', () => {
  const checks: CheckResult[] = [
    healthCheck,
    ...Array.from({ length: 200 }, (_, i): CheckResult => ({ ...healthCheck, name: `warning-check-${i}`, url: `http://127.0.0.1:9400/slow/${i}`, severity: 'warning', ok: false, latencyP95Ms: 412, error: `p95 412 ms over 300 ms ${'😀'.repeat(i % 3)}` })),
  ];
  const passed = envelope('health.passed', { ...healthPassed().data, checks }, { id: `${INCIDENT}.health`, ms: 70_000, source: 'health-monitor' });
  const longMerge = envelope('deploy.merged', { ...merged().data, ref: `feature/${'r'.repeat(190)}`, requestedBy: `agent-${'😀'.repeat(300)}` }, { id: `${INCIDENT}.merged`, ms: 0, source: 'deployer' });
  const update = chatUpdateOf(passed, stored(longMerge, completed(), passed));
  assert.ok(update);
  assertConforms(discordProblems(discordMessage(update)), 'discord');
  assertConforms(slackProblems(slackMessage(update)), 'slack');
});

test('conformance: updates from hostile events (a long hand-published correlation id, control characters in errors and summaries) conform', () => {
  for (const text of [...hostileTexts(), ...hostileTextsUpTo(1_024)]) {
    const correlationId = text || 'x';
    const summary = text.slice(0, 1_024) || 'summary';
    const events = [
      envelope('deploy.failed', { ...deployment, ref: 'feature/cache', stage: 'deploy-command', error: text, exitCode: 1, mergeCommit: MERGE, pushed: true }, { id: 'df', ms: 9_000, correlationId }),
      envelope('rollback.failed', { deploymentId: INCIDENT, service: 'primerouter', mergeCommit: MERGE, strategy: 'git-revert', stage: 'push', error: text, revertCommit: REVERT }, { id: 'rf', ms: 70_000, correlationId }),
      envelope('rollback.skipped', { deploymentId: INCIDENT, service: 'primerouter', mergeCommit: MERGE, reason: 'baseline-unhealthy', detail: text }, { id: 'rs', ms: 68_000, correlationId }),
      envelope('escalation.raised', { dedupKey: text || 'k', kind: 'lease-conflict', severity: 'warning', service: 'primerouter', summary, details: { a: text, b: text, c: text, d: text, e: text, f: text, g: text } }, { id: 'lc', ms: 1_000, correlationId }),
      envelope('escalation.resolved', { dedupKey: text || 'k', service: 'primerouter', summary: text }, { id: 'er', ms: 1_000, correlationId }),
    ];
    const failed = envelope('health.failed', { ...healthPassed().data, checks: [{ ...failingCheck, error: text }] }, { id: 'hf', ms: 67_000, correlationId });
    for (const event of events) {
      const update = chatUpdateOf(event, stored(failed, event));
      assert.ok(update, event.type);
      assertConforms(slackProblems(slackMessage(update)), `slack ${event.type} of ${describe(text)}`);
      assertConforms(discordProblems(discordMessage(update)), `discord ${event.type} of ${describe(text)}`);
    }
  }
});

const raised = (dedupKey: string, summary: string, details: Record<string, unknown>, correlationId = INCIDENT) =>
  envelope('escalation.raised', { dedupKey, kind: 'rollback-failed', severity: 'critical', service: 'primerouter', summary, details }, { id: 'esc', ms: 80_000, correlationId, source: 'rollback' });

test('conformance: PagerDuty triggers and resolves from hostile escalations keep to the Events API v2 limits', () => {
  for (const text of [...hostileTexts(), ...hostileTextsUpTo(1_024), ...emojiAtEveryCut(256, 6), ...emojiAtEveryCut(1_100, 6)]) {
    const dedupKey = text || 'k';
    const trigger = pagerDutyTrigger(raised(dedupKey, text.slice(0, 1_024) || 's', { reason: text, [text.slice(0, 300) || 'key']: text, nested: { list: [text, { deeper: text }] } }, text || 'x'), { source: 'agentbus', links: [{ href: 'https://ops.example/runbook', text: 'runbook' }] });
    assertConforms(pagerDutyProblems(addressPagerDutyEvent(trigger, ROUTING_KEY)), `trigger of ${describe(text)}`);
    const resolve = pagerDutyResolve(dedupKey);
    assertConforms(pagerDutyProblems(addressPagerDutyEvent(resolve, ROUTING_KEY)), `resolve of ${describe(text)}`);
    assert.equal(resolve.dedup_key, trigger.dedup_key, 'a resolve meets its trigger');
  }
});

test('conformance: a PagerDuty trigger whose details are over 512 KB still fits, and says what was left out', () => {
  const long = { output: 'x'.repeat(300_000), more: 'y'.repeat(300_000), list: Array.from({ length: 2_000 }, (_, i) => `item ${i} ${'z'.repeat(100)}`) };
  const cut = pagerDutyTrigger(raised('k', 's', long), { source: 'agentbus' });
  assertConforms(pagerDutyProblems(addressPagerDutyEvent(cut, ROUTING_KEY)), 'trigger with long texts in its details');
  assert.match(cut.payload.custom_details.output as string, /^x+ … \[\d+ characters cut\]$/, 'a long text is cut, and says so');
  assert.equal((cut.payload.custom_details.list as string[]).length, 2_000, 'the rest is kept');

  const many = { list: Array.from({ length: 10_000 }, (_, i) => `item ${i} ${'z'.repeat(100)}`) };
  const trigger = pagerDutyTrigger(raised('k', 's', many), { source: 'agentbus' });
  assertConforms(pagerDutyProblems(addressPagerDutyEvent(trigger, ROUTING_KEY)), 'trigger with too many details');
  assert.deepEqual(Object.keys(trigger.payload.custom_details).sort(), ['detailsLeftOut', 'escalationId', 'incidentId', 'kind', 'raisedBy']);
  assert.match(trigger.payload.custom_details.detailsLeftOut as string, /^the escalation's details would make this event \d+ bytes, over PagerDuty's 512000; they are in the escalation event esc on the bus$/);
  assert.equal(trigger.payload.custom_details.incidentId, INCIDENT, 'where it came from is always kept');

  // A message is at most MAX_MESSAGE_DEPTH levels deep (contracts refuses deeper data); the page keeps 16 of them.
  const deep: Record<string, unknown> = {};
  let level = deep;
  for (let i = 0; i < MAX_MESSAGE_DEPTH - 2; i++) level = (level.next = {}) as Record<string, unknown>;
  const nested = pagerDutyTrigger(raised('k', 's', deep), { source: 'agentbus' });
  assertConforms(pagerDutyProblems(addressPagerDutyEvent(nested, ROUTING_KEY)), `trigger with ${MAX_MESSAGE_DEPTH - 2} levels of details`);
  assert.match(JSON.stringify(nested.payload.custom_details), /"\[nested deeper than 16 levels: left out\]"/);
});

const facts: TicketFacts = {
  incidentId: INCIDENT,
  service: 'primerouter',
  title: 'Deployment rolled back',
  deploymentSha: MERGE,
  rolledBackTo: REVERT,
  failureReason: 'health: status 500',
  failingEndpoint: 'GET http://127.0.0.1:9400/health',
  timeToDetectMs: 67_000,
  timeToRollBackMs: 8_000,
  postmortemPath: `postmortems/${INCIDENT}`,
  summary: 'A merge broke /health.',
};

test('conformance: GitHub issues/create requests from hostile facts validate against @octokit/openapi\'s schema and GitHub\'s limits', () => {
  for (const text of [...hostileTexts(), ...hostileTexts(100_000).slice(0, 3), ...emojiAtEveryCut(256, 6)]) {
    const ticket = ticketRequest(
      { ...facts, incidentId: text || 'x', title: text, failureReason: text, failingEndpoint: text, deploymentSha: text, summary: text, postmortemPath: `postmortems/${text}` },
      ['incident', 'agentbus', text, 'x'.repeat(51), '', ...Array.from({ length: 150 }, (_, i) => `label-${i}`)],
    );
    assertConforms(githubIssueProblems(ticket), `ticket of ${describe(text)}`);
  }
});

test('conformance: the checkers catch what they check (a payload past each limit is reported)', () => {
  assert.ok(slackProblems({ text: 'x', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `${'a'.repeat(2_999)}&amp` } }] }).some((p) => /entity/.test(p)));
  assert.ok(slackProblems({ text: 'x', blocks: [{ type: 'context', elements: [{ type: 'mrkdwn', text: 'c'.repeat(3_001) }] }] }).some((p) => /over 3000/.test(p)));
  assert.ok(slackProblems({ text: 'x', blocks: Array.from({ length: 5 }, () => ({ type: 'section', text: { type: 'mrkdwn', text: 'a'.repeat(3_000) } })) }).some((p) => /12,000/.test(p)));
  assert.ok(discordProblems({ content: 'x', embeds: [{ title: 'a\ud83d', fields: [], footer: { text: 'f' } }], allowed_mentions: { parse: [] } }).some((p) => /surrogate/.test(p)));
  assert.ok(discordProblems({ content: 'x', embeds: [{ description: 'd'.repeat(4_096), fields: Array.from({ length: 2 }, () => ({ name: 'n', value: 'v'.repeat(1_024) })) }], allowed_mentions: { parse: [] } }).some((p) => /6,000/.test(p)));
  assert.ok(pagerDutyProblems({ routing_key: 'short', event_action: 'resolve', dedup_key: 'k' }).some((p) => /routing_key/.test(p)));
  assert.ok(pagerDutyProblems({ routing_key: ROUTING_KEY, event_action: 'trigger', payload: { summary: `s${CONTROL}`, source: 's', severity: 'critical' } }).some((p) => /control/.test(p)));
  assert.ok(githubIssueProblems({ title: 't', body: 'b', labels: [{ name: 1 }] }).some((p) => /^schema:/.test(p)), 'the schema is applied');
  assert.ok(githubIssueProblems({ body: 'b' }).some((p) => /^schema:/.test(p)), 'title is required by the schema');
});
