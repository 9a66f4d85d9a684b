import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '@agentbus/local-nats';
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

const deploy = (ref: string) => JSON.stringify({ service: 'api', ref, requestedBy: 'cli-test' });

test('streams apply a second time changes nothing and says so', async () => {
  const again = await runCli(['streams', 'apply'], { env });
  assert.equal(again.code, 0);
  assert.match(again.stdout, /nothing to change: 4 streams, \d+ consumers and \d+ buckets are up to date \(replicas 1\)/);
  const json = (await runCli(['streams', 'apply', '--dry-run', '--json'], { env })).json<{ changed: boolean; dryRun: boolean }>()[0]!;
  assert.equal(json.changed, false);
  assert.equal(json.dryRun, true);
});

test('publish prints stream, seq and duplicate; the same --id twice is a duplicate', async () => {
  const first = (await runCli(['publish', 'deployer.deploy', '--data', deploy('feature/a'), '--id', 'cli-pub-1', '--json'], { env })).json()[0]!;
  assert.deepEqual([first.stream, first.duplicate, first.id], ['AGENT_TASKS', false, 'cli-pub-1']);
  const second = await runCli(['publish', 'deployer.deploy', '--data', deploy('feature/a'), '--id', 'cli-pub-1'], { env });
  assert.equal(second.code, 0);
  assert.match(second.stdout, new RegExp(`duplicate of deployer.deploy cli-pub-1 → AGENT_TASKS seq ${first.seq}`));
});

test('replay from a sequence prints N..last in order; --to-seq and --subject filter; the human and JSON outputs agree', async () => {
  const seqs: number[] = [];
  for (const ref of ['r/1', 'r/2', 'r/3', 'r/4']) {
    seqs.push((await runCli(['publish', 'deployer.deploy', '--data', deploy(ref), '--json'], { env })).json<{ seq: number }>()[0]!.seq);
  }
  const from = seqs[1]!;
  const all = (await runCli(['replay', '--stream', 'AGENT_TASKS', '--from-seq', String(from), '--json'], { env })).json<{ seq: number; subject: string; time: string; headers: Record<string, string>; data: { data: { ref: string } } }>();
  assert.deepEqual(all.map((m) => m.seq), [from, from + 1, from + 2]);
  assert.deepEqual(all.map((m) => m.data.data.ref), ['r/2', 'r/3', 'r/4']);
  assert.ok(all.every((m) => m.subject === 'agents.deployer.tasks.deploy' && m.time && m.headers['Nats-Msg-Id']));

  const bounded = (await runCli(['replay', '--stream', 'AGENT_TASKS', '--from-seq', String(from), '--to-seq', String(from + 1), '--json'], { env })).json<{ seq: number }>();
  assert.deepEqual(bounded.map((m) => m.seq), [from, from + 1]);

  const human = await runCli(['replay', '--stream', 'AGENT_TASKS', '--from-seq', String(from)], { env });
  const humanSeqs = human.stdout.trim().split('\n').map((line) => Number(line.trim().split(/\s+/)[0]));
  assert.deepEqual(humanSeqs, all.map((m) => m.seq), 'the human listing shows the same messages');

  const filtered = await runCli(['replay', '--stream', 'AGENT_TASKS', '--from-seq', '1', '--subject', 'agents.nobody.tasks.>', '--json'], { env });
  assert.equal(filtered.code, 0);
  assert.deepEqual(filtered.json(), []);
  const outside = await runCli(['replay', '--stream', 'AGENT_TASKS', '--from-seq', '1', '--subject', 'events.>'], { env });
  assert.equal(outside.code, 1);
  assert.match(outside.stderr, /subject filter "events\.>" is not within the subjects of stream AGENT_TASKS/);
  const deployerOnly = (await runCli(['replay', '--stream', 'AGENT_TASKS', '--from-seq', String(from), '--subject', 'agents.deployer.tasks.deploy', '--json'], { env })).json<{ seq: number }>();
  assert.deepEqual(deployerOnly.map((m) => m.seq), all.map((m) => m.seq));

  const dry = await runCli(['replay', '--stream', 'AGENT_TASKS', '--from-seq', String(from), '--republish', '--dry-run'], { env });
  assert.match(dry.stdout, /dry run: 3 message\(s\) would be re-sent; nothing was sent/);
  const resent = (await runCli(['replay', '--stream', 'AGENT_TASKS', '--from-seq', String(from), '--to-seq', String(from), '--republish', '--json'], { env })).json<{ republished: { seq: number } }>();
  assert.equal(resent.length, 1);
  const copy = (await runCli(['replay', '--stream', 'AGENT_TASKS', '--from-seq', String(resent[0]!.republished.seq), '--json'], { env })).json<{ headers: Record<string, string> }>()[0]!;
  assert.equal(copy.headers['Agentbus-Replayed-From'], `AGENT_TASKS/${from}`);
});

test('bad input: each a clear error with a non-zero exit, and nothing is published', async () => {
  const before = (await runCli(['replay', '--stream', 'AGENT_TASKS', '--from-seq', '1', '--json'], { env })).json().length;
  const unknown = await runCli(['publish', 'deployer.deplyo', '--data', '{}'], { env });
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /unknown message type "deployer\.deplyo"/);
  assert.match(unknown.stderr, /hint: known types: deployer\.deploy/);

  const invalid = await runCli(['publish', 'deployer.deploy', '--data', '{"service":"api","ref":"--force","requestedBy":"x"}', '--json'], { env });
  assert.equal(invalid.code, 1);
  const error = invalid.json<{ error: { code: string; message: string } }>()[0]!.error;
  assert.equal(error.code, 'invalid-data');
  assert.match(error.message, /data\.ref: /);

  const malformed = await runCli(['publish', 'deployer.deploy', '--data', '{service: api}'], { env });
  assert.equal(malformed.code, 2);
  assert.match(malformed.stderr, /--data is not valid JSON/);

  const badFlag = await runCli(['replay', '--stream', 'AGENT_TASKS', '--from-seq', 'ten'], { env });
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.stderr, /--from-seq must be an integer/);

  const unknownFlag = await runCli(['dlq', 'list', '--colour'], { env });
  assert.equal(unknownFlag.code, 2);
  assert.match(unknownFlag.stderr, /Unknown option '--colour'/);

  const { tempDir } = await import('@agentbus/testkit');
  const { writeFileSync } = await import('node:fs');
  const big = `${tempDir()}/big.json`;
  writeFileSync(big, JSON.stringify({ service: 'api', ref: 'main', requestedBy: 'x'.repeat(300 * 1024) }));
  const tooLong = await runCli(['publish', 'deployer.deploy', '--data', `@${big}`], { env });
  assert.equal(tooLong.code, 1, 'a 300 KiB field read from a file (too big for a command line) is checked like any other');
  assert.match(tooLong.stderr, /data\.requestedBy: Too big/);
  const noFile = await runCli(['publish', 'deployer.deploy', '--data', '@/nonexistent.json'], { env });
  assert.equal(noFile.code, 2);
  assert.match(noFile.stderr, /cannot read \/nonexistent\.json/);

  const after = (await runCli(['replay', '--stream', 'AGENT_TASKS', '--from-seq', '1', '--json'], { env })).json().length;
  assert.equal(after, before, 'nothing was published');

  const missingStream = await runCli(['replay', '--stream', 'NOPE', '--from-seq', '1'], { env });
  assert.equal(missingStream.code, 1);
  assert.match(missingStream.stderr, /stream NOPE does not exist/);

  const noLetter = await runCli(['dlq', 'show', '999'], { env });
  assert.equal(noLetter.code, 1);
  assert.match(noLetter.stderr, /no message at sequence 999 in AGENT_DLQ/);
});

test('an unreachable NATS_URL is a clear error with a non-zero exit', async () => {
  const port = await freePort();
  const result = await runCli(['dlq', 'list'], { env: { NATS_URL: `nats://127.0.0.1:${port}` } });
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`cannot connect to NATS at nats://127.0.0.1:${port}`));
  assert.match(result.stderr, /hint: check that nats-server is running/);
});

test('without NATS_URL an embedded nats-server runs under .agentbus/; a missing binary says how to install it', async () => {
  const { tempDir } = await import('@agentbus/testkit');
  const cwd = tempDir();
  const embedded = await runCli(['streams', 'apply', '--json'], { env: { NATS_URL: undefined }, cwd });
  assert.equal(embedded.code, 0, embedded.stderr);
  const again = await runCli(['streams', 'apply'], { env: { NATS_URL: undefined }, cwd });
  assert.match(again.stdout, /nothing to change/, 'the embedded store persists under .agentbus/');

  const missing = await runCli(['dlq', 'list'], { env: { NATS_URL: undefined, NATS_SERVER_BIN: '/nonexistent/nats-server' }, cwd: tempDir() });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /apt-get install nats-server/);
  assert.match(missing.stderr, /brew install nats-server/);
});

test('dlq list, show and redrive from the command line', async () => {
  const { connectNats } = await import('@agentbus/bus');
  const { jetstream } = await import('@nats-io/jetstream');
  const nc = await connectNats({ servers: server.url, name: 'cli-dlq-test' });
  try {
    // A dead letter as the bus writes it, for a consumer that is not running here.
    const h = (await import('@nats-io/transport-node')).headers();
    const body = JSON.stringify({ id: 'dl-1', type: 'deployer.deploy', source: 't', time: new Date().toISOString(), correlationId: 'c-dl', data: { service: 'api', ref: 'main', requestedBy: 't', dryRun: true } });
    for (const [k, v] of Object.entries({ 'Agentbus-Type': 'deployer.deploy', 'Agentbus-Dlq-Stream': 'AGENT_TASKS', 'Agentbus-Dlq-Sequence': '1', 'Agentbus-Dlq-Subject': 'agents.deployer.tasks.deploy', 'Agentbus-Dlq-Consumer': 'deployer', 'Agentbus-Dlq-Deliveries': '5', 'Agentbus-Dlq-Reason': 'retries-exhausted', 'Agentbus-Dlq-Error': 'git fetch failed' })) h.set(k, v);
    const ack = await jetstream(nc).publish('dlq.AGENT_TASKS.deployer', body, { msgID: 'dlq-test-1', headers: h });

    const list = (await runCli(['dlq', 'list', '--json'], { env })).json<{ seq: number; reason: string; consumer: string }>();
    assert.deepEqual(list.map((l) => [l.seq, l.reason, l.consumer]), [[ack.seq, 'retries-exhausted', 'deployer']]);
    const show = await runCli(['dlq', 'show', String(ack.seq)], { env });
    assert.match(show.stdout, /error: {7}git fetch failed/);
    assert.match(show.stdout, /"ref": "main"/);

    const dry = await runCli(['dlq', 'redrive', '--all', '--dry-run'], { env });
    assert.match(dry.stdout, /would redrive dead letter \d+ \(deployer.deploy, retries-exhausted\) to agents.deployer.tasks.deploy/);
    const redriven = (await runCli(['dlq', 'redrive', String(ack.seq), '--json'], { env })).json<{ redriven: { stream: string; seq: number } }>()[0]!;
    assert.equal(redriven.redriven.stream, 'AGENT_TASKS');
    const copy = (await runCli(['replay', '--stream', 'AGENT_TASKS', '--from-seq', String(redriven.redriven.seq), '--json'], { env })).json<{ headers: Record<string, string>; data: { id: string } }>()[0]!;
    assert.equal(copy.data.id, 'dl-1');
    assert.equal(copy.headers['Agentbus-Redriven-From'], `AGENT_DLQ/${ack.seq}`);
    assert.equal((await runCli(['dlq', 'list', '--json'], { env })).json().length, 0);
    const neither = await runCli(['dlq', 'redrive'], { env });
    assert.equal(neither.code, 2);
  } finally {
    await nc.close();
  }
});
