// Every path through which outside text enters agentbus, fed ANSI colours and titles, a NUL byte,
// carriage returns, a bidi override and 10 kB of text: what each records (an error message, its
// details, an event field, a probe result) is safe and bounded. Real processes, a real git and
// real HTTP servers; the pure parts (message fields, describeError) are in packages/contracts/test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { agentbusRegistry, createEnvelope, describeError, isAgentbusError } from '@agentbus/contracts';
import { isFleetError, runDeployCommand, type DeployCommandResult } from '@agentbus/fleet';
import { initBareRepository, isGitError, runGit } from '@agentbus/git';
import { probeOnce } from '@agentbus/health';
import { postWebhook } from '@agentbus/notify';
import { tempDir } from '@agentbus/testkit';

/** What a deploy command result keeps of each stream (KEEP_OUTPUT_CHARS in fleet/src/deploy-command.ts). */
const KEEP_OUTPUT_CHARS = 64 * 1024;

const noise = '\x1b[1;31mERROR\x1b[0m nul\x00 cr\r\nnext\rline \x1b]0;title\x07\u202eflip ';
/** Noise at both ends of 10 kB, so a bound that keeps the start and one that keeps the end both see it. */
const hostile = `${noise}${'x'.repeat(10_000)}${noise}`;

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Safe (line breaks and tabs only), within `max`, and the NUL shown rather than hidden. */
function assertSafe(text: unknown, max: number, where: string, options: { oneLine?: boolean; showsNul?: boolean } = {}): void {
  assert.equal(typeof text, 'string', where);
  const value = text as string;
  assert.ok(value.length <= max, `${where}: ${value.length} characters, over ${max}`);
  assert.doesNotMatch(value, UNSAFE, `${where}: no escape sequences, control characters or bidi overrides`);
  if (options.oneLine) assert.doesNotMatch(value, /[\n\t]/, `${where}: one line`);
  if (options.showsNul ?? true) assert.ok(value.includes('\\x00'), `${where}: the NUL is shown as \\x00`);
}

async function answering(status: number, body: string): Promise<{ url: string; server: Server }> {
  const server = createServer((_request, response) => {
    response.writeHead(status, { 'content-type': 'text/plain' });
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`, server };
}

test('deploy command output: the error message, the kept stdout and stderr, and the deploy.failed event built from them', async () => {
  const script = `process.stdout.write(${JSON.stringify(hostile)}); process.stderr.write('y'.repeat(300_000) + '\\n' + ${JSON.stringify(hostile)}); process.exitCode = 1`;
  const error = await runDeployCommand({ command: [process.execPath, '-e', script], cwd: tempDir('agentbus-text-'), timeoutMs: 10_000 }).then(
    () => assert.fail('the command exits 1'),
    (failure: unknown) => failure,
  );
  assert.ok(isFleetError(error, 'deploy-command-failed'));
  assertSafe(error.message, 2_100, 'FleetError message');
  assert.match(error.message, /\\u202eflip$/, 'the message ends where the output ends');
  const result = error.details.result as DeployCommandResult;
  assertSafe(result.stderr, KEEP_OUTPUT_CHARS, 'result.stderr');
  assertSafe(result.stdout, KEEP_OUTPUT_CHARS, 'result.stdout');
  assert.ok(result.stderr.endsWith('ERROR nul\\x00 cr\nnext\nline \\u202eflip '), 'the end of the output is kept, CR as line breaks');
  assert.equal(result.truncated, true, '300 kB of stderr: its start was dropped');

  const failed = createEnvelope(
    agentbusRegistry,
    'deploy.failed',
    { deploymentId: 'd1', service: 'api', ref: 'feature/x', branch: 'main', requestedBy: 'tester', stage: 'deploy-command', error: describeError(error), stderr: result.stderr, exitCode: 1, pushed: true },
    { source: 'tester' },
  );
  assertSafe(failed.data.error, 8_000, 'deploy.failed error');
  assertSafe(failed.data.stderr, 8_000, 'deploy.failed stderr');
  assert.ok(failed.data.stderr?.endsWith('\\u202eflip '), 'the event keeps the end of stderr');
});

test('git output: the message and details of a failing git command; a NUL argument is refused before git runs', async () => {
  const repo = tempDir('agentbus-text-');
  await initBareRepository(repo);
  // An alias that behaves like a hook or a remote writing hostile text: colours, NUL, CR, 10 kB.
  const printf = `printf '\\033[31mfatal\\033[0m \\000 cr\\r\\n%s\\n\\033[31mreally fatal\\033[0m \\000\\r\\n' "$(head -c 10000 /dev/zero | tr '\\0' 'q')"`;
  const error = await runGit(['-c', `alias.noisy=!${printf} >&2; ${printf}; exit 3`, 'noisy'], { cwd: repo }).then(
    () => assert.fail('the alias exits 3'),
    (failure: unknown) => failure,
  );
  assert.ok(isGitError(error, 'git-failed'), String(error));
  assertSafe(error.message, 2_100, 'GitError message', { oneLine: true });
  assert.match(error.message, /really fatal \\x00/);
  assertSafe(error.details.stderr, 8_000, 'details.stderr');
  assertSafe(error.details.stdout, 8_000, 'details.stdout');
  assertSafe(describeError(error), 8_000, 'describeError(GitError)');

  await assert.rejects(runGit(['commit', '-m', `reason ${hostile}`], { cwd: repo }), (refused: unknown) => {
    assert.ok(isGitError(refused, 'invalid-argument'));
    assertSafe(refused.message, 300, 'invalid-argument message', { showsNul: false });
    for (const arg of refused.details.args as string[]) assertSafe(arg, 200, 'details.args', { oneLine: true, showsNul: arg.startsWith('reason') });
    return true;
  });
});

test('HTTP bodies: a probe\'s wrong-status and not-JSON errors, and a webhook receiver\'s quoted answer', async () => {
  for (const [status, expectJson] of [[500, undefined], [200, { status: 'ok' }]] as const) {
    const { url, server } = await answering(status, hostile);
    try {
      const probe = await probeOnce({ name: 'health', url, ...(expectJson ? { expectJson } : {}) });
      assert.equal(probe.ok, false);
      assert.equal(probe.error?.kind, status === 500 ? 'wrong-status' : 'invalid-json');
      assertSafe(probe.error?.message, 400, `probe ${probe.error?.kind}`, { oneLine: true });
    } finally {
      server.close();
    }
  }
  const { url, server } = await answering(400, hostile);
  try {
    await assert.rejects(postWebhook(url, { text: 'page' }, { target: 'chat target "ops"', timeoutMs: 5_000 }), (error: unknown) => {
      assert.ok(isAgentbusError(error) && error.code === 'webhook-status');
      assertSafe(error.message, 300, 'WebhookError message', { oneLine: true });
      assert.match(error.message, /^chat target "ops" answered 400 Bad Request: ERROR nul\\x00 cr next line/);
      return true;
    });
  } finally {
    server.close();
  }
});
