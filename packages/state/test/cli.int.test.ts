import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { AGENTBUS_BIN, startNats, tempDir } from '@agentbus/testkit';
import { StateStore } from '@agentbus/state';
import { firestoreHarness, natsKvHarness, type BackendFixture, type BackendHarness } from './harness/backends.ts';

const root = new URL('../../../', import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env, AGENTBUS_HOME: env.AGENTBUS_HOME ?? tempDir('agentbus-cli-home-') };
    if (env.AGENTBUS_STATE_BACKEND === 'firestore') delete childEnv.NATS_URL;
    execFile(process.execPath, [AGENTBUS_BIN, ...args], { cwd: root, env: childEnv, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function json(run: Run): Record<string, unknown> {
  const lines = run.stdout.trim().split('\n');
  return JSON.parse(lines.at(-1)!) as Record<string, unknown>;
}

/**
 * `agentbus state put` from separate processes: `writers` concurrent workers, each running
 * `writes` puts one after the other, all on one document.
 */
async function concurrentProcesses(fixture: BackendFixture, writers: number, writes: number): Promise<void> {
  const path = 'incidents/processes';
  const runs = await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      const results: Run[] = [];
      for (let i = 0; i < writes; i++) {
        results.push(await runCli(['state', 'put', path, '--data', JSON.stringify({ writer: w, write: i }), '--reason', `process ${w} write ${i}`, '--agent', `proc-${w}`, '--write-id', `p${w}-${i}`, '--json'], fixture.cliEnv));
      }
      return results;
    }),
  );
  for (const run of runs.flat()) assert.equal(run.code, 0, `${run.stdout}${run.stderr}`);
  const store = new StateStore({ backend: fixture.backend });
  const total = writers * writes;
  const history = await store.history(path, { limit: total + 10 });
  assert.deepEqual(history.entries.map((entry) => entry.number), Array.from({ length: total }, (_, i) => total - i), `versions 1..${total}, no gap`);
  const writeIds = new Set(history.entries.map((entry) => entry.envelope!.writeId));
  assert.deepEqual(writeIds, new Set(Array.from({ length: total }, (_, i) => `p${Math.floor(i / writes)}-${i % writes}`)), 'every write present once');
  const verify = await runCli(['state', 'verify', path, '--json'], fixture.cliEnv);
  assert.equal(verify.code, 0, verify.stdout);
  assert.deepEqual([json(verify).ok, json(verify).versions], [true, total]);
}

function processSuite(harness: BackendHarness, writers: number, writes: number): void {
  describe(`agentbus state put from separate processes: ${harness.kind}`, () => {
    before(() => harness.start());
    after(() => harness.stop());
    test(`${writers} concurrent processes × ${writes} puts end with gapless versions, each write once, and verify passes`, async () => {
      const fixture = await harness.fixture({ defaultBucket: true });
      try {
        await concurrentProcesses(fixture, writers, writes);
      } finally {
        await fixture.dispose();
      }
    });
  });
}

// Each CLI process costs about a second of CPU (tsx start-up): 20 on nats-kv, 10 against the emulator.
processSuite(natsKvHarness(), 20, 1);
processSuite(firestoreHarness(), 10, 1);

describe('agentbus state commands (nats-kv)', () => {
  const harness = natsKvHarness();
  let fixture: BackendFixture;
  before(async () => {
    await harness.start();
    fixture = await harness.fixture({ defaultBucket: true });
  });
  after(async () => {
    await fixture.dispose();
    await harness.stop();
  });

  test('a put on a NATS server without the state bucket creates it and says so', async () => {
    const bare = await startNats();
    try {
      const put = await runCli(['state', 'put', 'services/api', '--data', '{"replicas":1}', '--reason', 'first'], { NATS_URL: bare.url, AGENTBUS_STATE_BACKEND: 'nats-kv' });
      assert.equal(put.code, 0, put.stderr);
      assert.match(put.stderr, /created the state bucket agentbus_state/);
      assert.match(put.stdout, /wrote services\/api version 1/);
    } finally {
      await bare.stop();
    }
  });

  test('bad input: a clear error, the right exit code, and nothing written', async () => {
    const env = fixture.cliEnv;
    const path = 'services/api';
    assert.equal((await runCli(['state', 'put', path, '--data', '{"replicas":1}', '--reason', 'create'], env)).code, 0);
    const store = new StateStore({ backend: fixture.backend });
    const before = await store.history(path);

    const [notJson, badPath, noReason, unknownVersion] = await Promise.all([
      runCli(['state', 'put', path, '--data', '{replicas: 2}', '--reason', 'x'], env),
      runCli(['state', 'put', 'services/api.v2', '--data', '{}', '--reason', 'x', '--json'], env),
      runCli(['state', 'put', path, '--data', '{"a":1}', '--reason', ''], env),
      runCli(['state', 'get', path, '--version', '7'], env),
    ]);
    assert.equal(notJson.code, 2);
    assert.match(notJson.stderr, /--data is not valid JSON/);
    assert.match(notJson.stderr, /hint: quote it for the shell/);

    assert.equal(badPath.code, 1);
    const error = json(badPath).error as Record<string, unknown>;
    assert.equal(error.code, 'state-invalid-path');
    assert.match(String(error.message), /document path "services\/api.v2" is not valid: the id contains "\."/);
    assert.match(String(error.hint), /<collection>\/<id>/);

    assert.equal(noReason.code, 2);
    assert.match(noReason.stderr, /--reason is required/);

    assert.equal(unknownVersion.code, 1);
    assert.match(unknownVersion.stderr, /services\/api has no version 7 \(its versions are 1 to 1\)\nhint: pick a version from `agentbus state history services\/api`/);

    assert.deepEqual(await store.history(path), before, 'nothing was written');
  });

  test('put keeps every number exactly: an integer beyond 2^53 as {"$int": …}; a number a double cannot hold is refused naming the field', async () => {
    const env = fixture.cliEnv;
    const path = 'numbers/exact';
    const put = await runCli(['state', 'put', path, '--data', '{"n":9007199254740993,"m":-18446744073709551617,"small":42,"half":0.5,"list":[12345678901234567890]}', '--reason', 'big numbers', '--json'], env);
    assert.equal(put.code, 0, put.stderr);
    const head = json(await runCli(['state', 'get', path, '--json'], env));
    assert.deepEqual(head.data, { n: { $int: '9007199254740993' }, m: { $int: '-18446744073709551617' }, small: 42, half: 0.5, list: [{ $int: '12345678901234567890' }] });
    const text = await runCli(['state', 'put', 'numbers/text', '--data', JSON.stringify({ note: '\u009b2J\u202eevil' }), '--reason', 'hostile text'], env);
    assert.equal(text.code, 0, text.stderr);
    const shown = await runCli(['state', 'get', 'numbers/text'], env);
    assert.match(shown.stdout, /"note": "\\u202eevil"/, 'a C1 control sequence is removed, a bidi override escaped visibly (JSON leaves both as they are)');
    assert.doesNotMatch(shown.stdout, /[\u0080-\u009f\u202e]/);

    const store = new StateStore({ backend: fixture.backend });
    const before = await store.history(path);
    const [fraction, huge] = await Promise.all([
      runCli(['state', 'put', path, '--data', '{"a":{"x":0.1000000000000000000001}}', '--reason', 'x'], env),
      runCli(['state', 'put', path, '--data', '{"e":1e400}', '--reason', 'x', '--json'], env),
    ]);
    assert.equal(fraction.code, 2);
    assert.match(fraction.stderr, /--data: data\.a\.x is 0\.1000000000000000000001, which cannot be stored exactly \(it would become 0\.1\)/);
    assert.equal(huge.code, 2);
    assert.match(String((json(huge).error as Record<string, unknown>).message), /data\.e is 1e400, .*\(it would become Infinity\)/);
    assert.deepEqual(await store.history(path), before, 'nothing was written');
  });

  test('history, diff, restore --dry-run and restore print what an operator needs, and --json for scripts', async () => {
    const env = fixture.cliEnv;
    const path = 'config/permissions';
    const puts: Run[] = [];
    for (const [data, reason, writeId] of [['{"admins":["ana"],"mode":"strict"}', 'initial matrix', 'matrix-1'], ['{"admins":["ana"],"mode":"strict"}', 'initial matrix', 'matrix-1'], ['{"admins":["ana","bot"],"mode":"open"}', 'draft by mistake', 'matrix-2']] as const) {
      puts.push(await runCli(['state', 'put', path, '--data', data, '--reason', reason, '--agent', 'cso', '--write-id', writeId], env));
    }
    assert.deepEqual(puts.map((put) => put.code), [0, 0, 0]);
    assert.match(puts[0]!.stdout, /wrote config\/permissions version 1/);
    assert.match(puts[1]!.stdout, /config\/permissions: writeId matrix-1 already wrote version 1; nothing new was written/);
    assert.match(puts[2]!.stdout, /wrote config\/permissions version 2/);
    const history = await runCli(['state', 'history', path], env);
    assert.match(history.stdout, /^VERSION\s+TIME\s+AGENT\s+OP\s+REASON\s+HASH\n2\s+.*cso\s+put\s+draft by mistake\s+[0-9a-f]{12}\n1\s+.*initial matrix/);
    const diff = json(await runCli(['state', 'diff', path, '1', 'head', '--json'], env));
    assert.deepEqual((diff.changes as Array<Record<string, unknown>>).map((change) => `${change.kind} ${change.field}`), ['added admins[1]', 'changed mode']);

    const dry = await runCli(['state', 'restore', path, '--version', '1', '--reason', 'draft overwrote the matrix', '--dry-run'], env);
    assert.equal(dry.code, 0);
    assert.match(dry.stdout, /would write version 3[\s\S]*- admins\[1\] = "bot"[\s\S]*~ mode: "open" → "strict"[\s\S]*nothing was written/);
    const restored = json(await runCli(['state', 'restore', path, '--version', '1', '--reason', 'draft overwrote the matrix', '--json'], env));
    assert.deepEqual([restored.written, (restored.version as Record<string, unknown>).number], [true, 3]);
    const head = json(await runCli(['state', 'get', path, '--json'], env));
    assert.deepEqual(head.data, { admins: ['ana'], mode: 'strict' });
    assert.equal((head.envelope as Record<string, unknown>).reason, 'restore to version 1: draft overwrote the matrix');
  });

  test('verify exits 1 and names the first bad version; signatures are checked with --trust-keys', async () => {
    const env = fixture.cliEnv;
    const keys = tempDir('agentbus-keys-');
    const keygen = json(await runCli(['state', 'keygen', 'deployer', '--dir', keys, '--json'], env));
    assert.match(String(keygen.keyId), /^[0-9a-f]{16}$/);
    const path = 'services/signed';
    for (const step of [1, 2]) {
      const put = await runCli(['state', 'put', path, '--data', JSON.stringify({ step }), '--reason', `step ${step}`, '--agent', 'deployer', '--sign-key', join(keys, 'deployer.key.pem')], env);
      assert.equal(put.code, 0, put.stderr);
    }
    const good = await runCli(['state', 'verify', path, '--trust-keys', keys, '--require-signatures'], env);
    assert.equal(good.code, 0, good.stdout);
    assert.match(good.stdout, /ok {3}services\/signed: 2 version\(s\), head 2; signatures: 2 valid, 0 unsigned/);

    assert.equal((await runCli(['state', 'put', path, '--data', '{"step":3}', '--reason', 'no key', '--agent', 'deployer'], env)).code, 0);
    const unsigned = await runCli(['state', 'verify', path, '--trust-keys', keys], env);
    assert.equal(unsigned.code, 1);
    assert.match(unsigned.stdout, /BAD {2}services\/signed: first bad version 3 \(unsigned\)/);

    await fixture.tamper.editVersion(path, 2, (record) => void (record.data.step = 20));
    const refused = await runCli(['state', 'get', path, '--version', '2'], env);
    assert.equal(refused.code, 1, 'a tampered version is not shown as if it were data');
    assert.match(refused.stderr, /services\/signed version 2 fails verification \(data-changed\): version 2's data was changed after it was written/);
    assert.doesNotMatch(refused.stdout, /"step": 20/);
    const anyway = await runCli(['state', 'get', path, '--version', '2', '--unverified'], env);
    assert.equal(anyway.code, 0, anyway.stderr);
    assert.match(anyway.stdout, /"step": 20/);
    assert.equal((await runCli(['state', 'get', path], env)).code, 0, 'the head (version 3) is intact');
    assert.equal((await runCli(['streams', 'apply'], env)).code, 0, 'the events stream exists, so the break can be escalated');
    const all = await runCli(['state', 'verify', '--all'], env);
    assert.equal(all.code, 1);
    assert.match(all.stdout, /BAD {2}services\/signed: first bad version 2 \(data-changed\)/);
    assert.match(all.stdout, /ok {3}config\/permissions/);
    assert.match(all.stdout, /document\(s\) checked, 1 damaged/);
    assert.match(all.stderr, /raised 1 chain-break escalation/);
    const events = (await runCli(['replay', '--stream', 'AGENT_EVENTS', '--from-seq', '1', '--subject', 'events.escalation.raised', '--json'], env)).stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { data: { data: { kind: string; dedupKey: string; details: { path: string } } } });
    assert.deepEqual(
      events.map((e) => [e.data.data.kind, e.data.data.dedupKey, e.data.data.details.path]),
      [['chain-break', 'agentbus.chain-break.services_signed.2', 'services/signed']],
      'one escalation, for the damaged document only',
    );
    const usage = await runCli(['state', 'verify'], env);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /give either a document path or --all/);
  });
});
