import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, waitFor } from '@agentbus/testkit';
import { isFleetError, runDeployCommand, type DeployCommand, type DeployCommandResult } from '@agentbus/fleet';

const node = process.execPath;

function command(argv: string[], extra: Partial<DeployCommand> = {}): DeployCommand {
  return { command: argv, cwd: tempDir('agentbus-deploy-'), timeoutMs: 10_000, ...extra };
}

/** Alive and not a zombie (this machine's init does not reap orphans). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

test('a deploy command runs as argv in its cwd with env added, and its output, exit code and duration are kept', async () => {
  const spec = command([node, '-e', 'console.log(process.cwd(), process.env.RELEASE, process.argv[1]); console.error("warming up")', '$(touch pwned); echo hi && rm -rf x'], {
    env: { RELEASE: 'r42' },
  });
  const result = await runDeployCommand(spec);
  assert.equal(result.exitCode, 0);
  assert.equal(result.stdout.trim(), `${spec.cwd} r42 $(touch pwned); echo hi && rm -rf x`, 'arguments reach the program untouched: no shell');
  assert.equal(result.stderr.trim(), 'warming up');
  assert.equal(existsSync(join(spec.cwd, 'pwned')), false);
  assert.ok(result.durationMs > 0);
  assert.equal(result.timedOut, false);
});

test('a non-zero exit is deploy-command-failed with its stderr; a missing program or cwd is named', async () => {
  await assert.rejects(runDeployCommand(command([node, '-e', 'console.error("port 8080 already in use"); process.exit(3)'])), (error) => {
    assert.ok(isFleetError(error, 'deploy-command-failed'));
    assert.match(error.message, /exited with 3:\nport 8080 already in use$/);
    const result = error.details.result as DeployCommandResult;
    assert.equal(result.exitCode, 3);
    assert.equal(result.stderr, 'port 8080 already in use\n');
    assert.equal(error.retryable, false);
    return true;
  });
  await assert.rejects(runDeployCommand(command(['systemctl restart api && echo done'])), (error) => isFleetError(error, 'deploy-command-not-found') && /shell syntax/.test(error.hint ?? ''));
  await assert.rejects(runDeployCommand(command([node], { cwd: '/nonexistent/agentbus' })), (error) => isFleetError(error, 'deploy-command-not-found') && /working directory/.test(error.message));
});

test('a deploy command past its time-out is killed with its whole process group', async () => {
  const dir = tempDir('agentbus-deploy-');
  const pidFile = join(dir, 'grandchild.pid');
  const script = `const { spawn } = require('node:child_process');
const child = spawn('sleep', ['30'], { stdio: 'ignore' });
require('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(child.pid));
console.log('restarting…');
setInterval(() => {}, 1000);`;
  const started = Date.now();
  await assert.rejects(runDeployCommand(command([node, '-e', script], { timeoutMs: 400 }), { killGraceMs: 200 }), (error) => {
    assert.ok(isFleetError(error, 'deploy-command-timeout'));
    const result = error.details.result as DeployCommandResult;
    assert.equal(result.timedOut, true);
    assert.equal(result.stdout.trim(), 'restarting…');
    return true;
  });
  assert.ok(Date.now() - started < 3_000);
  const grandchild = Number(readFileSync(pidFile, 'utf8'));
  await waitFor('the grandchild to be killed with the group', () => !isRunning(grandchild), 2_000);
});

test('a daemon the command starts and leaves running does not hold the result back', async () => {
  const dir = tempDir('agentbus-deploy-');
  const pidFile = join(dir, 'daemon.pid');
  const script = `const { spawn } = require('node:child_process');
const daemon = spawn('sleep', ['20'], { detached: true, stdio: 'inherit' });
daemon.unref();
require('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(daemon.pid));
console.log('started');`;
  writeFileSync(join(dir, 'restart.js'), script);
  const started = Date.now();
  const result = await runDeployCommand(command([node, 'restart.js'], { cwd: dir }));
  const daemon = Number(readFileSync(pidFile, 'utf8'));
  try {
    assert.equal(result.stdout.trim(), 'started');
    assert.ok(Date.now() - started < 2_000, `returned while the daemon holds its stdout (${Date.now() - started} ms)`);
    assert.equal(isRunning(daemon), true, 'the daemon keeps running');
  } finally {
    process.kill(daemon, 'SIGKILL');
  }
});
