// The command line as people type it: negative numbers, values that start with "-", a group of
// commands without its subcommand, an unknown option, and stdout closed by `| head`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from '@agentbus/bus';
import { freePort } from '@agentbus/local-nats';
import { runCli, startNats, type NatsServer } from '@agentbus/testkit';
import { runCliIntoClosedPipe } from './closed-stdout.ts';

let server: NatsServer;
let env: Record<string, string>;
let nowhere: Record<string, string>;
before(async () => {
  server = await startNats();
  env = { NATS_URL: server.url };
  // Usage errors are found before anything connects: a closed port proves nothing tried.
  nowhere = { NATS_URL: `nats://127.0.0.1:${await freePort()}` };
  const applied = await runCli(['streams', 'apply'], { env });
  assert.equal(applied.code, 0, applied.stderr);
});
after(() => server.stop());

function firstLine(stderr: string): string {
  return stderr.split('\n')[0]!;
}

test('a negative number says what is wrong with the value and what is allowed, as --flag=-1 does', async () => {
  const [spaced, joined, limit, seq, redrive] = await Promise.all([
    runCli(['replay', '--stream', 'AGENT_TASKS', '--from-seq', '-1'], { env: nowhere }),
    runCli(['replay', '--stream', 'AGENT_TASKS', '--from-seq=-1'], { env: nowhere }),
    runCli(['state', 'history', 'services/api', '--limit', '-5'], { env: nowhere }),
    runCli(['dlq', 'show', '-1'], { env: nowhere }),
    runCli(['dlq', 'redrive', '-3', '--dry-run'], { env: nowhere }),
  ]);
  assert.equal(spaced.code, 2);
  assert.equal(firstLine(spaced.stderr), 'agentbus: error: --from-seq must be an integer ≥ 1, got "-1"');
  assert.equal(spaced.stderr, joined.stderr, '--from-seq -1 and --from-seq=-1 get one message');
  assert.equal(limit.code, 2);
  assert.equal(firstLine(limit.stderr), 'agentbus: error: --limit must be an integer ≥ 1, got "-5"');
  assert.equal(seq.code, 2);
  assert.equal(firstLine(seq.stderr), 'agentbus: error: seq must be an integer ≥ 1, got "-1"');
  assert.equal(redrive.code, 2);
  assert.equal(firstLine(redrive.stderr), 'agentbus: error: seq must be an integer ≥ 1, got "-1"'.replace('-1', '-3'));
  for (const run of [spaced, limit, seq, redrive]) assert.doesNotMatch(run.stderr, /ambiguous|Unknown option/);
});

test('a string option\'s value may start with "-": the command judges it (--ref --upload-pack=x as --ref=--upload-pack=x)', async () => {
  const [spaced, joined, data] = await Promise.all([
    runCli(['deploy', 'api', '--ref', '--upload-pack=x'], { env: nowhere }),
    runCli(['deploy', 'api', '--ref=--upload-pack=x'], { env: nowhere }),
    runCli(['publish', 'deployer.deploy', '--data', '-x'], { env: nowhere }),
  ]);
  assert.equal(spaced.code, 2);
  assert.match(firstLine(spaced.stderr), /^agentbus: error: --ref "--upload-pack=x" is not a branch or commit name/);
  assert.equal(spaced.stderr, joined.stderr, 'the deploy command\'s own validation, as for --ref=--upload-pack=x');
  assert.doesNotMatch(spaced.stderr, /ambiguous/);
  assert.equal(data.code, 2);
  assert.match(firstLine(data.stderr), /--data is not valid JSON/);
});

test('a group of commands alone or with --help lists its commands with their summaries', async () => {
  const groups = { dlq: ['list', 'show', 'redrive'], state: ['put', 'get', 'history', 'diff', 'restore', 'verify', 'list', 'repair', 'keygen'], streams: ['apply'], postmortem: ['show'] } as const;
  const runs = await Promise.all(Object.keys(groups).flatMap((group) => [runCli([group], { env: nowhere }), runCli([group, '--help'], { env: nowhere })]));
  Object.entries(groups).forEach(([group, subcommands], index) => {
    const [alone, help] = [runs[index * 2]!, runs[index * 2 + 1]!];
    assert.equal(alone.code, 2, `agentbus ${group}: a usage error (no command given)`);
    assert.equal(help.code, 0, `agentbus ${group} --help`);
    assert.equal(alone.stdout, help.stdout);
    assert.match(help.stdout, new RegExp(`^usage: agentbus ${group} <command>`));
    const listed = [...help.stdout.matchAll(/^ {2}(\S+) {2,}\S.*$/gm)].map((m) => m[1]);
    assert.deepEqual(listed, subcommands, help.stdout);
    assert.doesNotMatch(help.stdout, /unknown command/);
  });
  const dlqHelp = runs[1]!.stdout;
  assert.match(dlqHelp, /^ {2}list {5}list dead letters: where each came from/m, 'each with its summary');

  const typo = await runCli(['dlq', 'lsit'], { env: nowhere });
  assert.equal(typo.code, 2);
  assert.equal(firstLine(typo.stderr), 'agentbus: error: unknown command "dlq lsit"');
  assert.match(typo.stderr, /hint: agentbus dlq has: list, show, redrive/);
});

test('an unknown option with no command names the option', async () => {
  const [nope, json] = await Promise.all([runCli(['--nope'], { env: nowhere }), runCli(['--nope', '--json'], { env: nowhere })]);
  assert.equal(nope.code, 2);
  assert.equal(firstLine(nope.stderr), "agentbus: error: unknown option '--nope'");
  assert.doesNotMatch(nope.stderr, /unknown command ""/);
  assert.equal(json.code, 2);
  assert.deepEqual(json.json<{ error: { code: string; message: string } }>()[0]!.error.message, "unknown option '--nope'");
  const group = await runCli(['dlq', '--json'], { env: nowhere });
  assert.equal(group.code, 2);
  assert.match(group.json<{ error: { message: string } }>()[0]!.error.message, /^agentbus dlq needs a command: list, show, redrive$/, 'with --json, a group alone is a JSON error');
});

test('replay --json into a closed pipe (| head) ends quietly with exit 0, and its clean-ups still run', async () => {
  const nc = await connectNats({ servers: server.url, name: 'cli-epipe-test' });
  try {
    const js = jetstream(nc);
    const body = JSON.stringify({ note: 'x'.repeat(2_000) });
    for (let i = 0; i < 300; i++) await js.publish('agents.epipe.tasks.fill', body);
    const jsm = await jetstreamManager(nc);
    const consumers = async () => (await jsm.consumers.list('AGENT_TASKS').next()).map((c) => c.name);
    const before = await consumers();

    const run = await runCliIntoClosedPipe(['replay', '--stream', 'AGENT_TASKS', '--from-seq', '1', '--json'], env);
    assert.deepEqual([run.code, run.signal], [0, null], run.stderr);
    assert.equal(run.stderr, '', 'no stack trace, no message');
    assert.deepEqual(await consumers(), before, 'the reading consumer was deleted (the clean-up ran)');

    const human = await runCliIntoClosedPipe(['replay', '--stream', 'AGENT_TASKS', '--from-seq', '1'], env);
    assert.deepEqual([human.code, human.stderr], [0, '']);
    const help = await runCliIntoClosedPipe(['--help'], env);
    assert.deepEqual([help.code, help.stderr], [0, '']);
  } finally {
    await nc.close();
  }
});

test('publish refuses a number a message cannot carry exactly, naming the field; nothing is sent', async () => {
  const count = async () => (await runCli(['replay', '--stream', 'AGENT_EVENTS', '--from-seq', '1', '--json'], { env })).json().length;
  const before = await count();
  const escalation = (n: string) => `{"dedupKey":"k","kind":"chain-break","severity":"info","summary":"s","details":{"n":${n}}}`;
  const run = await runCli(['publish', 'escalation.raised', '--data', escalation('9007199254740993')], { env });
  assert.equal(run.code, 2);
  assert.match(firstLine(run.stderr), /--data: data\.details\.n is 9007199254740993, which a message cannot carry exactly \(it would become 9007199254740992\)/);
  assert.match(run.stderr, /hint: .*as a string/);
  assert.equal(await count(), before, 'nothing was published');
  const exact = await runCli(['publish', 'escalation.raised', '--data', escalation('9007199254740991'), '--json'], { env });
  assert.equal(exact.code, 0, exact.stderr);
});
