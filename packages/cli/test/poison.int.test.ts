// No stored message, however malformed, stops a read command: a foreign client puts poison in
// the streams with the raw client, and replay and dlq print what can be printed and go on.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { connectNats } from '@agentbus/bus';
import { runCli, startNats, type NatsServer } from '@agentbus/testkit';

let server: NatsServer;
let env: Record<string, string>;
before(async () => {
  server = await startNats();
  env = { NATS_URL: server.url };
  const applied = await runCli(['streams', 'apply'], { env });
  assert.equal(applied.code, 0, applied.stderr);
});
after(() => server.stop());

const encode = (text: string) => new TextEncoder().encode(text);
const deep = encode(`{"id":"deep","data":${'['.repeat(5000)}${']'.repeat(5000)}}`);
const notUtf8 = new Uint8Array([0xff, 0xfe, 0x7b, 0x22, 0xe9, 0x22, 0x7d]);
const hostileText = encode('\x1b]0;owned\x07\x1b[2Jclear \u202eevil\x00 \x9b31m not json');
const hostileJson = encode(JSON.stringify({ id: '\x1b[31mred', data: { x: '\x1b]8;;http://evil\x07link\u202e', y: '\x9b2J' } }));
const huge = encode(JSON.stringify({ id: 'huge', data: { text: 'h'.repeat(900 * 1024) } }));
const good = (id: string) => encode(JSON.stringify({ id, type: 'deployer.deploy', data: { service: 'api' } }));

/** A terminal acts on ESC, BEL, the C1 CSI and bidi overrides: none may reach it from a message. */
function assertTerminalSafe(text: string): void {
  // eslint-disable-next-line no-control-regex -- the control characters are what this asserts are absent
  assert.doesNotMatch(text, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/, 'no control character or bidi override reaches the terminal');
}

test('replay goes on past deep, non-UTF-8, non-JSON, hostile and huge messages: --json shows each (raw bytes as base64 with a note), the human listing escapes them', async () => {
  const nc = await connectNats({ servers: server.url, name: 'poison-replay' });
  const js = jetstream(nc);
  const bodies = [good('before'), deep, notUtf8, hostileText, hostileJson, huge, good('after')];
  const seqs: number[] = [];
  try {
    for (const body of bodies) seqs.push((await js.publish('agents.deployer.tasks.deploy', body)).seq);
  } finally {
    await nc.close();
  }
  const from = String(seqs[0]);

  const json = await runCli(['replay', '--stream', 'AGENT_TASKS', '--from-seq', from, '--json'], { env });
  assert.equal(json.code, 0, json.stderr);
  const records = json.json<{ seq: number; data?: unknown; dataBase64?: string; dataNote?: string }>();
  assert.deepEqual(records.map((r) => r.seq), seqs, 'every message, in order');
  const [before, deepRecord, latin, text, hostile, hugeRecord, last] = records as [typeof records[0], ...typeof records];
  assert.deepEqual((before.data as { id: string }).id, 'before');
  assert.deepEqual((last!.data as { id: string }).id, 'after');
  assert.equal(deepRecord!.data, undefined);
  assert.deepEqual(Buffer.from(deepRecord!.dataBase64!, 'base64'), Buffer.from(deep), 'the deep message, byte for byte');
  assert.match(deepRecord!.dataNote!, /^nested deeper than \d+ levels$/);
  assert.deepEqual(Buffer.from(latin!.dataBase64!, 'base64'), Buffer.from(notUtf8));
  assert.equal(latin!.dataNote, 'not UTF-8 (7 bytes)');
  assert.deepEqual(Buffer.from(text!.dataBase64!, 'base64'), Buffer.from(hostileText));
  assert.match(text!.dataNote!, /^not JSON \(/);
  assert.deepEqual(hostile!.data, JSON.parse(new TextDecoder().decode(hostileJson)), 'JSON is shown as it is (JSON escapes it)');
  assert.equal((hugeRecord!.data as { data: { text: string } }).data.text.length, 900 * 1024);

  const human = await runCli(['replay', '--stream', 'AGENT_TASKS', '--from-seq', from], { env });
  assert.equal(human.code, 0, human.stderr);
  const lines = human.stdout.trimEnd().split('\n');
  assert.deepEqual(lines.map((line) => Number(line.trim().split(/\s+/)[0])), seqs, 'one line per message');
  assertTerminalSafe(human.stdout);
  assert.match(lines[1]!, /\[nested deeper than \d+ levels\]/);
  assert.match(lines[2]!, /\[not UTF-8 \(7 bytes\): --json shows the bytes as base64\]/);
  assert.match(lines[3]!, /clear \\u202eevil\\x00 .*\[not JSON/, 'escape sequences removed, other controls escaped visibly');
  assert.ok(lines.every((line) => line.length < 400), 'the huge message is one bounded line');
});

test('dlq list and show go on past poison dead letters; the failure headers are escaped for the terminal', async () => {
  const nc = await connectNats({ servers: server.url, name: 'poison-dlq' });
  const js = jetstream(nc);
  const letter = (consumer: string, error: string) => {
    const h = natsHeaders();
    for (const [k, v] of Object.entries({ 'Agentbus-Dlq-Stream': 'AGENT_TASKS', 'Agentbus-Dlq-Sequence': '1', 'Agentbus-Dlq-Subject': 'agents.deployer.tasks.deploy', 'Agentbus-Dlq-Consumer': consumer, 'Agentbus-Dlq-Deliveries': '1', 'Agentbus-Dlq-Reason': 'malformed-json', 'Agentbus-Dlq-Error': error })) h.set(k, v);
    return h;
  };
  const seqs: number[] = [];
  try {
    seqs.push((await js.publish('dlq.AGENT_TASKS.deployer', deep, { headers: letter('deployer', 'Maximum call stack size exceeded') })).seq);
    seqs.push((await js.publish('dlq.AGENT_TASKS.deployer', notUtf8, { headers: letter('deployer', 'not UTF-8') })).seq);
    seqs.push((await js.publish('dlq.AGENT_TASKS.deployer', hostileText, { headers: letter('deployer', '\x1b[31mred\x1b[0m \u202eevil') })).seq);
    seqs.push((await js.publish('dlq.AGENT_TASKS.deployer', good('fine'), { headers: letter('deployer', 'ok') })).seq);
  } finally {
    await nc.close();
  }

  const list = await runCli(['dlq', 'list', '--json'], { env });
  assert.equal(list.code, 0, list.stderr);
  const letters = list.json<{ seq: number; data?: unknown; dataBase64?: string; dataNote?: string }>();
  assert.deepEqual(letters.map((l) => l.seq), seqs);
  assert.deepEqual(Buffer.from(letters[0]!.dataBase64!, 'base64'), Buffer.from(deep));
  assert.match(letters[0]!.dataNote!, /^nested deeper than/);
  assert.equal(letters[1]!.dataNote, 'not UTF-8 (7 bytes)');
  assert.deepEqual((letters[3]!.data as { id: string }).id, 'fine');

  const table = await runCli(['dlq', 'list'], { env });
  assert.equal(table.code, 0, table.stderr);
  assertTerminalSafe(table.stdout);
  assert.match(table.stdout, /red \\u202eevil/);

  const [showDeep, showLatin, showHostile] = await Promise.all(seqs.slice(0, 3).map((seq) => runCli(['dlq', 'show', String(seq)], { env })));
  for (const show of [showDeep, showLatin, showHostile]) {
    assert.equal(show!.code, 0, show!.stderr);
    assertTerminalSafe(show!.stdout);
  }
  assert.match(showDeep!.stdout, /body: nested deeper than \d+ levels, as text:\n {4}\{"id":"deep","data":\[\[\[/);
  assert.match(showLatin!.stdout, new RegExp(`body: not UTF-8 \\(7 bytes\\), as base64:\\n {4}${Buffer.from(notUtf8).toString('base64').replace(/\+/g, '\\+')}`));
  assert.match(showHostile!.stdout, /error: {7}red \\u202eevil/);
  assert.match(showHostile!.stdout, /body: not JSON \(.*\), as text:\n {4}clear \\u202eevil\\x00/);
  const showJson = await runCli(['dlq', 'show', String(seqs[0]), '--json'], { env });
  assert.equal(showJson.code, 0, showJson.stderr);
  assert.deepEqual(Buffer.from(showJson.json<{ dataBase64: string }>()[0]!.dataBase64, 'base64'), Buffer.from(deep));
});
