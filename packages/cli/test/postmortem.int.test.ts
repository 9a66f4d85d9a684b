// Post-mortems of incidents whose ids differ only in characters a document id cannot hold: the
// real post-mortem service writes one document and one file each, and `agentbus postmortem show
// <id>` finds each by its incident id.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentbusRegistry, postmortemPath } from '@agentbus/contracts';
import { Publisher, connectNats } from '@agentbus/bus';
import { postmortemService } from '@agentbus/postmortem';
import { runService } from '@agentbus/runtime';
import { openStateBackend, StateStore } from '@agentbus/state';
import { runCli, startNats, tempDir, waitFor } from '@agentbus/testkit';
import { runCliIntoClosedPipe } from './closed-stdout.ts';

test('incidents a.b, a/b, a_b and .hidden each get their own post-mortem, shown by id; show into a closed pipe exits 0', async (t) => {
  const server = await startNats();
  t.after(() => server.stop());
  const env = { NATS_URL: server.url };
  assert.equal((await runCli(['streams', 'apply'], { env })).code, 0);
  const dir = tempDir('agentbus-pm-');
  const configPath = join(dir, 'agentbus.config.json');
  writeFileSync(configPath, JSON.stringify({ services: [], postmortems: { dir: join(dir, 'postmortems') } }));
  const service = await runService(postmortemService, { env: { NATS_URL: server.url, AGENTBUS_CONFIG: configPath, LOG_LEVEL: 'silent' } });
  t.after(() => service.stop());
  const nc = await connectNats({ servers: server.url, name: 'postmortem-ids-test' });
  t.after(() => nc.close());

  const ids = ['a.b', 'a/b', 'a_b', '.hidden'];
  const publisher = new Publisher(nc, { registry: agentbusRegistry, source: 'postmortem-ids-test' });
  for (const id of ids) {
    await publisher.publish('escalation.raised', { dedupKey: `test.${id}`, kind: 'chain-break', severity: 'critical', summary: `incident ${id}`, details: {} }, { correlationId: id });
  }
  const store = new StateStore({ backend: await openStateBackend({ backend: 'nats-kv', nc }) });
  t.after(() => store.close());
  const documents = await waitFor('a post-mortem per incident', async () => {
    const paths = (await store.listDocuments()).filter((path) => path.startsWith('postmortems/'));
    return paths.length >= ids.length ? paths : undefined;
  });
  assert.deepEqual(documents.sort(), ids.map(postmortemPath).sort(), 'four documents, one per incident');
  // Each file is written after its document: wait for the last one too.
  const markdown = () => readdirSync(join(dir, 'postmortems')).filter((name) => name.endsWith('.md'));
  await waitFor('a Markdown file per incident', () => markdown().length >= ids.length).catch(() => {});
  assert.equal(markdown().length, ids.length, 'four Markdown files');

  const shown = await Promise.all(ids.map((id) => runCli(['postmortem', 'show', id, '--json'], { env })));
  shown.forEach((run, index) => {
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.json<{ incidentId: string }>()[0]!.incidentId, ids[index]);
  });
  const human = await runCli(['postmortem', 'show', 'a.b'], { env });
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, new RegExp(`version 1 of ${postmortemPath('a.b')}`));
  const byDocument = await runCli(['postmortem', 'show', postmortemPath('a.b').split('/')[1]!, '--json'], { env });
  assert.equal(byDocument.json<{ incidentId: string }>()[0]!.incidentId, 'a.b', 'the document id (as the ticket names it) finds it too');

  const listed = (await runCli(['incidents', '--json'], { env })).json<{ id: string }>();
  assert.deepEqual(listed.map((i) => i.id).sort(), [...ids].sort());

  const piped = await runCliIntoClosedPipe(['postmortem', 'show', 'a.b'], env);
  assert.deepEqual([piped.code, piped.signal, piped.stderr], [0, null, '']);
});
