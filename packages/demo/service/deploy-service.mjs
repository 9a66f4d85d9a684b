#!/usr/bin/env node
// The demo service's deploy command (what `systemctl restart <service>` is in seed 000).
//
//   node deploy-service.mjs          restart: stop the running version, start the working clone's
//                                    server.mjs detached, wait until it answers HTTP on /
//   node deploy-service.mjs stop     stop the running version
//
// Runs in the working clone (cwd). Settings come from the environment the fleet configuration
// gives the deploy command: DEMO_SERVICE_PORT, DEMO_SERVICE_STATE_DIR (pid file, log, flags) and
// optionally DEMO_SERVICE_START_TIMEOUT_MS (default 5000). The server is given the paths of its flag
// files in the state dir (dependency-down, error-rate) and inherits the rest of the environment
// (DEMO_DEGRADE_AFTER_MS, read by one version).
//
// Exit 0: the new version listens (whether /health is good is the health monitor's business).
// Exit 1: it exited before listening or did not listen in time; its log tail is on stderr.
//
// The server is killed only when the pid file names it: a live, non-zombie process whose command
// line runs this clone's server.mjs. pidfile-watchdog.cjs (preloaded into the server) makes it
// exit on its own when its pid file is removed or names another process, so a test that dies
// without cleaning up leaves no server behind once its temp dir is gone.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { isRunning } from './process-liveness.mjs';

const port = Number(process.env.DEMO_SERVICE_PORT);
const stateDir = process.env.DEMO_SERVICE_STATE_DIR;
const startTimeoutMs = Number(process.env.DEMO_SERVICE_START_TIMEOUT_MS ?? 5000);
if (!Number.isInteger(port) || port <= 0 || !stateDir) {
  console.error('deploy-service: DEMO_SERVICE_PORT (a port) and DEMO_SERVICE_STATE_DIR (a directory) must be set');
  process.exit(2);
}
const pidFile = join(stateDir, 'service.pid');
const logFile = join(stateDir, 'service.log');
const server = resolve('server.mjs');
const watchdog = fileURLToPath(new URL('./pidfile-watchdog.cjs', import.meta.url));

/** True unless /proc shows the pid now belongs to something that is not a demo server.mjs. */
function isDemoServer(pid, script) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(script);
  } catch {
    return true;
  }
}

async function stopRunning() {
  let recorded;
  try {
    recorded = JSON.parse(readFileSync(pidFile, 'utf8'));
  } catch {
    return;
  }
  const { pid, script } = recorded;
  if (Number.isInteger(pid) && isRunning(pid) && isDemoServer(pid, script)) {
    process.kill(pid, 'SIGTERM');
    for (let waited = 0; isRunning(pid) && waited < 3000; waited += 25) await sleep(25);
    if (isRunning(pid)) process.kill(pid, 'SIGKILL');
    for (let waited = 0; isRunning(pid) && waited < 2000; waited += 25) await sleep(25);
    console.log(`stopped pid ${pid}`);
  }
  rmSync(pidFile, { force: true });
}

function answersHttp() {
  return new Promise((done) => {
    const probe = request({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 500 }, (response) => {
      response.resume();
      done(true);
    });
    probe.on('timeout', () => probe.destroy());
    probe.on('error', () => done(false));
    probe.end();
  });
}

function logTail() {
  try {
    return readFileSync(logFile, 'utf8').trim().split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

async function start() {
  if (!existsSync(server)) {
    console.error(`deploy-service: ${server} does not exist; is the working directory the service's clone?`);
    process.exit(1);
  }
  mkdirSync(stateDir, { recursive: true });
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--require', watchdog, server], {
    cwd: process.cwd(),
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, PORT: String(port), DEMO_SERVICE_PID_FILE: pidFile, DEMO_DEPENDENCY_FLAG_FILE: join(stateDir, 'dependency-down'), DEMO_ERROR_RATE_FLAG_FILE: join(stateDir, 'error-rate') },
  });
  closeSync(log);
  writeFileSync(`${pidFile}.tmp`, JSON.stringify({ pid: child.pid, script: server, port, startedAt: new Date().toISOString() }));
  renameSync(`${pidFile}.tmp`, pidFile);
  let exited = null;
  child.once('exit', (code, signal) => (exited = { code, signal }));
  child.unref();
  const deadline = Date.now() + startTimeoutMs;
  while (Date.now() < deadline) {
    if (exited) break;
    if (await answersHttp()) {
      console.log(`started pid ${child.pid} on port ${port}`);
      return;
    }
    await sleep(20);
  }
  if (!exited) {
    process.kill(child.pid, 'SIGKILL');
    console.error(`deploy-service: server.mjs did not answer on port ${port} within ${startTimeoutMs} ms; killed it`);
  } else {
    console.error(`deploy-service: server.mjs exited (${exited.signal ?? `code ${exited.code}`}) before listening on port ${port}`);
  }
  console.error(logTail());
  rmSync(pidFile, { force: true });
  process.exit(1);
}

await stopRunning();
if (process.argv[2] !== 'stop') await start();
