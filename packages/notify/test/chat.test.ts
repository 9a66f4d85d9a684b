import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chatMessage, chatUpdateOf, discordMessage, isChatUpdate, slackMessage, type ChatUpdate } from '@agentbus/notify';
import { completed, envelope, healthFailed, healthPassed, INCIDENT, MERGE, merged, PREVIOUS, REVERT, rollbackCompleted, rollbackStarted, stored, deployment } from './fixtures.ts';

const short = (sha: string) => `\`${sha.slice(0, 12)}\``;

test('chat: health.passed after a deploy is one update: deployed and healthy, with the ref, checks and time from the merge', () => {
  const passed = healthPassed();
  const update = chatUpdateOf(passed, stored(merged(), completed(), passed));
  assert.deepEqual(update, {
    incidentId: INCIDENT,
    eventId: passed.id,
    time: '2024-05-01T03:53:10.000Z',
    service: 'primerouter',
    tone: 'ok',
    title: 'primerouter: feature/cache deployed and healthy',
    text: 'Every fatal check passed after the 1 min 00 s stabilization window. Warnings: home-page http://127.0.0.1:9400/: p95 412 ms over 300 ms.',
    fields: [
      { label: 'Ref', value: '`feature/cache`' },
      { label: 'Merge commit', value: short(MERGE) },
      { label: 'Requested by', value: 'coding-agent' },
      { label: 'Checks', value: 'health ok, p95 12 ms; home-page failing (p95 412 ms over 300 ms), p95 412 ms' },
      { label: 'Merge → verified healthy', value: '1 min 10 s' },
    ],
  } satisfies ChatUpdate);
});

test('chat: rollback.completed says why, what was done and how long each part took', () => {
  const done = rollbackCompleted();
  const update = chatUpdateOf(done, stored(merged(), completed(), healthFailed(), rollbackStarted(), done));
  assert.deepEqual(update, {
    incidentId: INCIDENT,
    eventId: done.id,
    time: '2024-05-01T03:53:15.000Z',
    service: 'primerouter',
    tone: 'warning',
    title: 'primerouter: rolled back feature/cache; healthy again',
    text: 'Health checks failed after the deploy (health http://127.0.0.1:9400/health: status 500, expected 200). agentbus reverted the merge (cccccccccccc), redeployed and verified the service healthy. Nothing to do now; a post-mortem follows.',
    fields: [
      { label: 'Ref', value: '`feature/cache`' },
      { label: 'Merge commit', value: short(MERGE) },
      { label: 'Revert commit', value: short(REVERT) },
      { label: 'Running now', value: short(REVERT) },
      { label: 'Strategy', value: 'git-revert' },
      { label: 'Time to detect', value: '1 min 07 s' },
      { label: 'Time to roll back', value: '8.0 s' },
      { label: 'Time degraded', value: '1 min 10 s' },
      { label: 'Requested by', value: 'coding-agent' },
    ],
  } satisfies ChatUpdate);
  const alone = chatUpdateOf(done, []);
  assert.equal(alone?.title, `primerouter: rolled back ${MERGE.slice(0, 12)}; healthy again`, 'without the rest of the incident it still names the change');
  assert.deepEqual(alone?.fields.map((f) => f.label), ['Merge commit', 'Revert commit', 'Running now', 'Strategy', 'Time to roll back']);
});

test('chat: deploy.failed, rollback.failed and rollback.skipped each say what stopped and why', () => {
  const deployFailed = envelope('deploy.failed', { ...deployment, stage: 'deploy-command', error: 'deploy command exited with 1', exitCode: 1, mergeCommit: MERGE, pushed: true }, { id: 'df', ms: 9_000, source: 'deployer' });
  assert.deepEqual(chatUpdateOf(deployFailed, stored(merged(), deployFailed)), {
    incidentId: INCIDENT,
    eventId: 'df',
    time: '2024-05-01T03:52:09.000Z',
    service: 'primerouter',
    tone: 'critical',
    title: 'primerouter: deploy of feature/cache failed at deploy-command',
    text: 'deploy command exited with 1\nThe merge commit reached the remote branch.',
    fields: [
      { label: 'Ref', value: '`feature/cache`' },
      { label: 'Stage', value: 'deploy-command' },
      { label: 'Merge commit', value: short(MERGE) },
      { label: 'Exit code', value: '1' },
      { label: 'Requested by', value: 'coding-agent' },
    ],
  } satisfies ChatUpdate);

  const rollbackFailed = envelope('rollback.failed', { deploymentId: INCIDENT, service: 'primerouter', mergeCommit: MERGE, strategy: 'git-revert', stage: 'push', error: 'remote rejected the push', revertCommit: REVERT }, { id: 'rf', ms: 70_000, source: 'rollback' });
  assert.deepEqual(chatUpdateOf(rollbackFailed, stored(merged(), completed(), healthFailed(), rollbackFailed)), {
    incidentId: INCIDENT,
    eventId: 'rf',
    time: '2024-05-01T03:53:10.000Z',
    service: 'primerouter',
    tone: 'critical',
    title: 'primerouter: rollback of feature/cache failed at push',
    text: 'remote rejected the push\nA person must take over: the service may still run the deployment that failed its checks.',
    fields: [
      { label: 'Ref', value: '`feature/cache`' },
      { label: 'Merge commit', value: short(MERGE) },
      { label: 'Revert commit', value: short(REVERT) },
      { label: 'Strategy', value: 'git-revert' },
      { label: 'Stage', value: 'push' },
    ],
  } satisfies ChatUpdate);

  const skipped = envelope('rollback.skipped', { deploymentId: INCIDENT, service: 'primerouter', mergeCommit: MERGE, reason: 'baseline-unhealthy', detail: 'primerouter was already unhealthy before this deploy.' }, { id: 'rs', ms: 68_000, source: 'rollback' });
  assert.deepEqual(chatUpdateOf(skipped, stored(merged(), completed(), healthFailed(), skipped)), {
    incidentId: INCIDENT,
    eventId: 'rs',
    time: '2024-05-01T03:53:08.000Z',
    service: 'primerouter',
    tone: 'critical',
    title: 'primerouter: not rolled back (baseline-unhealthy)',
    text: 'primerouter was already unhealthy before this deploy.\nagentbus does not decide this alone.',
    fields: [
      { label: 'Ref', value: '`feature/cache`' },
      { label: 'Merge commit', value: short(MERGE) },
      { label: 'Failing checks', value: 'health http://127.0.0.1:9400/health: status 500, expected 200' },
      { label: 'Reason', value: 'baseline-unhealthy' },
    ],
  } satisfies ChatUpdate);
});

test('chat: escalations no rollback event tells, and resolutions, are updates of their own', () => {
  const lease = envelope(
    'escalation.raised',
    { dedupKey: 'agentbus.lease-conflict.primerouter.7', kind: 'lease-conflict', severity: 'warning', service: 'primerouter', summary: 'primerouter: deployer and rollback both hold epoch 7', details: { epoch: 7, holders: ['a', 'b'], taken: true } },
    { id: 'lc', ms: 1_000, source: 'deployer' },
  );
  assert.deepEqual(chatUpdateOf(lease, []), {
    incidentId: INCIDENT,
    eventId: 'lc',
    time: '2024-05-01T03:52:01.000Z',
    service: 'primerouter',
    tone: 'warning',
    title: 'primerouter: two agents claim the service; a human must decide',
    text: 'primerouter: deployer and rollback both hold epoch 7',
    fields: [
      { label: 'Kind', value: 'lease-conflict' },
      { label: 'Severity', value: 'warning' },
      { label: 'epoch', value: '7' },
      { label: 'taken', value: 'true' },
    ],
  } satisfies ChatUpdate);
  const chainBreak = envelope('escalation.raised', { dedupKey: 'agentbus.chain-break.releases-api', kind: 'chain-break', severity: 'critical', summary: 'releases/api version 4 does not verify', details: {} }, { id: 'cb', ms: 0 });
  assert.equal(chatUpdateOf(chainBreak, [])?.title, 'agentbus: a state history does not verify; a human must decide');
  assert.equal(chatUpdateOf(chainBreak, [])?.tone, 'critical');

  const resolved = envelope('escalation.resolved', { dedupKey: 'agentbus.prolonged-unhealthy.primerouter', service: 'primerouter', summary: 'primerouter is healthy again' }, { id: 'er', ms: 400_000, source: 'notifier' });
  assert.deepEqual(chatUpdateOf(resolved, []), {
    incidentId: INCIDENT,
    eventId: 'er',
    time: '2024-05-01T03:58:40.000Z',
    service: 'primerouter',
    tone: 'ok',
    title: 'primerouter: escalation resolved',
    text: 'primerouter is healthy again',
    fields: [{ label: 'Dedup key', value: '`agentbus.prolonged-unhealthy.primerouter`' }],
  } satisfies ChatUpdate);
});

test('chat: steps inside an update send nothing', () => {
  const steps = [
    merged(),
    completed(),
    healthFailed(),
    rollbackStarted(),
    envelope('rollback.reverted', { deploymentId: INCIDENT, service: 'primerouter', mergeCommit: MERGE, strategy: 'git-revert', revertCommit: REVERT, restoredCommit: REVERT, pushedAt: '2024-05-01T03:53:09.000Z' }, { id: 'rv', ms: 69_000 }),
    envelope('task.started', { agent: 'deployer', taskType: 'deployer.deploy', taskId: INCIDENT, attempt: 1 }, { id: 'ts', ms: 0 }),
    envelope('notification.delivered', { channel: 'chat', target: 'ops', incidentId: INCIDENT, deliveryId: 'x', status: 200, attempt: 1 }, { id: 'nd', ms: 0 }),
    envelope('health.recovered', { service: 'primerouter', unhealthySince: '2024-05-01T03:53:07.000Z', recoveredAt: '2024-05-01T03:53:15.000Z', unhealthyMs: 8_000 }, { id: 'hr', ms: 75_000 }),
    envelope('health.passed', { ...healthPassed().data, phase: 'post-rollback' }, { id: 'hp', ms: 75_000 }),
    envelope('rollback.skipped', { deploymentId: INCIDENT, service: 'primerouter', reason: 'already-rolled-back', detail: 'already rolled back' }, { id: 'sk', ms: 90_000 }),
    envelope('escalation.raised', { dedupKey: 'k1', kind: 'rollback-failed', severity: 'critical', service: 'primerouter', summary: 's', details: {} }, { id: 'e1', ms: 0 }),
    envelope('escalation.raised', { dedupKey: 'k2', kind: 'unattributed-failure', severity: 'error', service: 'primerouter', summary: 's', details: {} }, { id: 'e2', ms: 0 }),
  ];
  for (const event of steps) {
    assert.equal(isChatUpdate(event), false, `${event.type} (${event.id}) is not an update`);
    assert.equal(chatUpdateOf(event, stored(...steps)), null);
  }
  for (const event of [healthPassed(), rollbackCompleted()]) assert.equal(isChatUpdate(event), true);
});

test('chat: in a release (one incident, a deployment per step) an update is told from its own deployment; the release\'s end is an update of its own', () => {
  const release = INCIDENT;
  const step = (n: number, service: string, ref: string) => ({ deploymentId: `${release}-${n}`, service, ref, branch: 'main', requestedBy: 'night agent (release)' });
  const apiMerged = envelope('deploy.merged', { ...step(1, 'api', 'feature/api'), mergeCommit: PREVIOUS, previousCommit: MERGE, pushedAt: '2024-05-01T03:52:00.000Z' }, { id: 'm1', ms: 0 });
  const webMerged = envelope('deploy.merged', { ...step(2, 'web', 'feature/web'), mergeCommit: MERGE, previousCommit: PREVIOUS, pushedAt: '2024-05-01T03:53:00.000Z' }, { id: 'm2', ms: 60_000 });
  const webPassed = envelope('health.passed', { ...healthPassed().data, deploymentId: `${release}-2`, service: 'web' }, { id: 'p2', ms: 70_000 });
  const told = chatUpdateOf(webPassed, stored(apiMerged, webMerged, webPassed));
  assert.equal(told?.title, 'web: feature/web deployed and healthy', "step 2's own ref, not step 1's");
  assert.equal(told?.fields.find((f) => f.label === 'Merge → verified healthy')?.value, '10.0 s', "from step 2's own merge");

  const started = envelope('release.started', { releaseId: release, steps: [{ n: 1, service: 'api', ref: 'feature/api', guardMs: 0, deploymentId: `${release}-1` }, { n: 2, service: 'web', ref: 'feature/web', guardMs: 0, deploymentId: `${release}-2` }], rollbackScope: 'service', alsoCheck: [], requestedBy: 'night agent' }, { id: 'rs', ms: 0 });
  const steps = [{ n: 1, service: 'api', ref: 'feature/api', deploymentId: `${release}-1`, status: 'promoted' as const }, { n: 2, service: 'web', ref: 'feature/web', deploymentId: `${release}-2`, status: 'rolled-back' as const }];
  const ended = envelope('release.completed', { releaseId: release, status: 'rolled-back', steps, detail: 'step 2 (web feature/web) failed its checks and was rolled back; later steps were not promoted' }, { id: 'rc', ms: 90_000 });
  assert.deepEqual(chatUpdateOf(ended, stored(started, ended)), {
    incidentId: INCIDENT,
    eventId: 'rc',
    time: '2024-05-01T03:53:30.000Z',
    service: null,
    tone: 'warning',
    title: 'release of api, web: rolled-back',
    text: 'step 2 (web feature/web) failed its checks and was rolled back; later steps were not promoted',
    fields: [
      { label: 'Release', value: `\`${release}\`` },
      { label: 'Steps', value: '1. api feature/api: promoted; 2. web feature/web: rolled-back' },
      { label: 'Rollback scope', value: 'service' },
      { label: 'Requested by', value: 'night agent' },
    ],
  } satisfies ChatUpdate);
  const triage = envelope('release.completed', { releaseId: release, status: 'triage', steps, detail: 'the final check failed on api and web' }, { id: 'rt', ms: 90_000 });
  assert.deepEqual([chatUpdateOf(triage, [])?.tone, chatUpdateOf(triage, [])?.text], ['critical', 'the final check failed on api and web\nA person must look: agentbus does not decide this alone.']);
});

const update: ChatUpdate = {
  incidentId: INCIDENT,
  eventId: 'e',
  time: '2024-05-01T03:53:15.000Z',
  service: 'primerouter',
  tone: 'warning',
  title: 'primerouter: rolled back <!channel> & co',
  text: 'why: <@U123> said so',
  fields: [
    { label: 'Merge commit', value: short(MERGE) },
    { label: 'Time to roll back', value: '8.0 s' },
  ],
};

test('slack: text for notifications, a section, the fields, the incident; mrkdwn control characters escaped', () => {
  assert.deepEqual(slackMessage(update), {
    text: '⚠️ primerouter: rolled back &lt;!channel&gt; &amp; co',
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: '*primerouter: rolled back &lt;!channel&gt; &amp; co*\nwhy: &lt;@U123&gt; said so' } },
      {
        type: 'section',
        fields: [
          { type: 'mrkdwn', text: `*Merge commit*\n${short(MERGE)}` },
          { type: 'mrkdwn', text: '*Time to roll back*\n8.0 s' },
        ],
      },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `incident \`${INCIDENT}\` · 2024-05-01T03:53:15.000Z` }] },
    ],
  });
  const bare = slackMessage({ ...update, fields: [] });
  assert.deepEqual(bare.blocks.map((b) => b.type), ['section', 'context'], 'no empty fields section');
  assert.deepEqual(chatMessage(update, 'slack'), slackMessage(update));
});

test('discord: content, one embed with colour, fields and timestamp; mentions switched off', () => {
  assert.deepEqual(discordMessage(update), {
    content: '⚠️ primerouter: rolled back <!channel> & co',
    embeds: [
      {
        title: 'primerouter: rolled back <!channel> & co',
        description: 'why: <@U123> said so',
        color: 0xecb22e,
        fields: [
          { name: 'Merge commit', value: short(MERGE), inline: true },
          { name: 'Time to roll back', value: '8.0 s', inline: true },
        ],
        timestamp: '2024-05-01T03:53:15.000Z',
        footer: { text: `incident ${INCIDENT}` },
      },
    ],
    allowed_mentions: { parse: [] },
  });
  assert.deepEqual(chatMessage(update, 'discord'), discordMessage(update));
  const colors = (['ok', 'warning', 'critical', 'info'] as const).map((tone) => discordMessage({ ...update, tone }).embeds[0]!.color);
  assert.equal(new Set(colors).size, 4, 'each tone has its own colour');
});

test('chat formats: a cut says how much it cut; Discord keeps the title and shares the rest of its 6,000 between the description and the fields', () => {
  const huge: ChatUpdate = { ...update, title: 'T'.repeat(5_000), text: 'x'.repeat(10_000), fields: Array.from({ length: 30 }, (_, i) => ({ label: `L${i}`.repeat(200), value: 'v'.repeat(3_000) })) };
  const slack = slackMessage(huge);
  assert.match(slack.text, /^⚠️ T+ … \[\d+ characters cut\]$/);
  const [section, fieldBlock] = slack.blocks as unknown as [{ text: { text: string } }, { fields: Array<{ text: string }> }];
  assert.match(section.text.text, /^\*T+ … \[4\d{3} characters cut\]\*\nx+ … \[\d+ characters cut\]$/);
  assert.equal(fieldBlock.fields.length, 10, 'the first 10 fields, as many as Slack shows');
  const discord = discordMessage(huge);
  const embed = discord.embeds[0]!;
  assert.ok(embed.title.length > 250 && embed.title.length <= 256, 'the title is kept to its own limit, not shortened for the others');
  assert.equal(embed.fields.length, 25);
  const total = embed.title.length + (embed.description?.length ?? 0) + embed.footer.text.length + embed.fields.reduce((sum, f) => sum + f.name.length + f.value.length, 0);
  assert.ok(total <= 6_000 && total > 5_900, `the 6,000 characters are used (${total})`);
  assert.ok(embed.fields.every((f) => / characters cut\]$/.test(f.value)));
  assert.equal(discordMessage({ ...update, text: '' }).embeds[0]!.description, undefined, 'no empty description');
});
