// End to end: what `npm start`, `agentbus up` and `agentbus demo` leave behind. Stopping npm's pid
// (the pid a user sees) stops everything; a service whose supervisor was killed exits by itself;
// the demo runs beside a running `up` on a NATS server of its own and removes what it made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectNats, natsAuthFrom } from '@agentbus/bus';
import { cliConnectionNames } from '@agentbus/streams';
import { jetstreamManager } from '@nats-io/jetstream';
import { serviceNames } from '@agentbus/platform';
import { isRunning } from '@agentbus/demo';
import { AGENTBUS_BIN, runCli, tempDir, waitFor } from '@agentbus/testkit';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Every process below `pid`, children first found first. */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const walk = (parent: number) => {
    let children: number[] = [];
    try {
      children = readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return;
    }
    for (const child of children) {
      out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

interface Started {
  child: ChildProcess;
  stdout(): string;
  exited: Promise<number | string>;
}

function start(command: string, args: string[], env: Record<string, string>, cwd: string): Started {
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, stdout: () => out, exited };
}

/** Kills whatever is left of a tree (only when a test failed half-way). */
function killTree(pids: number[]): void {
  for (const pid of pids) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
}

async function waitUp(started: Started): Promise<void> {
  await waitFor('agentbus up to be up', () => {
    if (started.child.exitCode !== null) throw new Error(`it exited: ${started.stdout()}`);
    return started.stdout().includes('agentbus is up.');
  }, 90_000, 100);
}

/** `agentbus up` on an embedded NATS in a home of its own, up and ready; whatever is left is killed after the test. */
async function startUp(t: { after(fn: () => void): void }): Promise<{ home: string; env: Record<string, string>; up: Started; tree: number[] }> {
  const home = tempDir('agentbus-home-');
  const env = { AGENTBUS_HOME: home, NATS_URL: '', HEALTH_WATCH_INTERVAL_MS: '0' };
  const up = start(process.execPath, [AGENTBUS_BIN, 'up'], env, tempDir('agentbus-up-'));
  const tree: number[] = [];
  t.after(() => killTree([...tree, up.child.pid!]));
  await waitUp(up);
  tree.push(...descendants(up.child.pid!));
  return { home, env, up, tree };
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`npm start stopped by ${signal} to npm's own pid stops agentbus up, every service and the embedded nats-server`, async (t) => {
    const home = tempDir('agentbus-home-');
    const npm = start('npm', ['start', '--silent'], { AGENTBUS_HOME: home, NATS_URL: '', LOG_LEVEL: 'info', HEALTH_WATCH_INTERVAL_MS: '0' }, REPO_ROOT);
    let tree: number[] = [];
    t.after(() => killTree([...tree, npm.child.pid!]));
    await waitUp(npm);
    tree = descendants(npm.child.pid!);
    const services = tree.filter((pid) => /services\/[a-z-]+\/index\.js/.test(commandOf(pid)));
    assert.equal(services.length, serviceNames.length, `one process per service: ${tree.map(commandOf).join('\n')}`);
    assert.ok(tree.some((pid) => commandOf(pid).includes('nats-server')), 'the embedded nats-server runs');

    process.kill(npm.child.pid!, signal);
    await npm.exited;
    await waitFor(`every process npm start started to be gone after ${signal}`, () => tree.every((pid) => !isRunning(pid)), 60_000, 100);
    assert.match(npm.stdout(), new RegExp(`${signal}: stopping the services`));
    assert.match(npm.stdout(), /stopped\./);
  });
}

test('a service whose supervisor was killed (SIGKILL) exits by itself; the nats-server it left is stopped by the next command on that store', async (t) => {
  const { home, env, up, tree } = await startUp(t);
  const server = tree.find((pid) => commandOf(pid).includes('nats-server'));
  assert.ok(server, 'the embedded nats-server runs');
  const services = tree.filter((pid) => pid !== server && commandOf(pid).includes('index.js'));
  assert.equal(services.length, serviceNames.length);

  up.child.kill('SIGKILL');
  await up.exited;
  await waitFor('every service to notice its supervisor is gone and exit', () => services.every((pid) => !isRunning(pid)), 30_000, 100);
  assert.ok(isRunning(server), 'nats-server outlived its owner (nothing could stop it)');

  const apply = await runCli(['streams', 'apply'], { env, cwd: tempDir('agentbus-cli-') });
  assert.equal(apply.code, 0, apply.stderr);
  assert.equal(isRunning(server), false, 'the next command on that store stopped the orphaned server first');
  assert.equal(existsSync(join(home, 'nats.lock')), false, 'and released the store when done');
});

test('agentbus demo runs beside a running agentbus up, on its own NATS server, touches nothing of up, and leaves nothing in the temp dir', async (t) => {
  const { home, env, up, tree } = await startUp(t);
  const upUrl = (JSON.parse(readFileSync(join(home, 'nats.json'), 'utf8')) as { url: string }).url;
  // up's server requires an identity: a client without one is refused; the operator's key is in <home>/auth.
  await assert.rejects(connectNats({ servers: upUrl, name: 'stranger' }), (error: Error) => /refused identity anonymous \(no credentials\): Authorization Violation/.test(error.message));
  const nc = await connectNats({ servers: upUrl, name: cliConnectionNames.operator, ...natsAuthFrom({ NATS_CREDENTIALS_DIR: join(home, 'auth') }, 'operator') });
  t.after(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const eventsBefore = (await jsm.streams.info('AGENT_EVENTS')).state.messages;

  const tmp = tempDir('agentbus-tmpdir-');
  const demo = await runCli(['demo', '--json'], { env: { ...env, TMPDIR: tmp }, timeoutMs: 120_000 });
  assert.equal(demo.code, 0, demo.stderr);
  const result = demo.json<{ outcome: string; serviceHealthy: boolean }>()[0]!;
  assert.equal(result.outcome, 'rolled-back');
  assert.equal(result.serviceHealthy, true);
  assert.equal((await jsm.streams.info('AGENT_EVENTS')).state.messages, eventsBefore, "not one event on up's server");
  // tsx keeps its compile cache there (tsx-<uid>) by design; everything else would be the demo's.
  assert.deepEqual(readdirSync(tmp).filter((name) => !name.startsWith('tsx-')), [], 'the demo removed everything it made in the temp dir');
  assert.ok(tree.every((pid) => isRunning(pid)), 'up and its services still run');

  up.child.kill('SIGTERM');
  assert.equal(await up.exited, 0);
});
