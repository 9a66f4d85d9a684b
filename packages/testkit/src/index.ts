import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { NatsCluster, NatsServer } from '@agentbus/local-nats';
import { PrometheusServer } from './prometheus.ts';

export { NatsCluster, NatsServer } from '@agentbus/local-nats';
export { startWebhookReceiver, type WebhookReceiver, type ReceivedRequest, type ReceiverAnswer } from './webhook-receiver.ts';
export { PrometheusServer, findPrometheusBinary } from './prometheus.ts';
export { makeTlsFiles, type TlsFiles } from './tls.ts';

const tempDirs: string[] = [];
process.on('exit', () => {
  if (process.env.AGENTBUS_KEEP_TEST_DIRS) return;
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary directory, removed when the test process exits. */
export function tempDir(prefix = 'agentbus-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** A name no other test uses: for streams, consumers, buckets, subjects and services. */
export function uniqueName(prefix = 't'): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

/**
 * Under `npm test -- --tier unit` (AGENTBUS_TEST_TIER=unit) the kit refuses what a unit test must
 * not need: a server or a child process. A test that asks for one belongs in *.int.test.ts.
 */
function refuseInUnitTier(what: string): void {
  if (process.env.AGENTBUS_TEST_TIER === 'unit') {
    throw new Error(`a unit test started ${what}: unit tests need no server and no child process; name the file *.int.test.ts (or move it to test/e2e/)`);
  }
}

/** One real nats-server with JetStream on free ports and a temp store. stop() it when done. */
export async function startNats(options: { includes?: string[] } = {}): Promise<NatsServer> {
  refuseInUnitTier('a nats-server');
  const dir = tempDir('agentbus-nats-');
  return NatsServer.start({ storeDir: join(dir, 'store'), logFile: join(dir, 'nats-server.log'), includes: options.includes });
}

/** A private Prometheus (Debian's package) on a free port, scraping `targets` every second; stop() it when done. */
export async function startPrometheus(targets: string[], options: { scrapeIntervalMs?: number } = {}): Promise<PrometheusServer> {
  refuseInUnitTier('a prometheus');
  return PrometheusServer.start({ dir: tempDir('agentbus-prometheus-'), targets, ...options });
}

/** A 3-node JetStream cluster on loopback, each node with its own temp store. */
export async function startNatsCluster(size = 3, options: { includes?: string[] } = {}): Promise<NatsCluster> {
  refuseInUnitTier('a nats-server cluster');
  return NatsCluster.start({ baseDir: tempDir('agentbus-cluster-'), size, includes: options.includes });
}

/** Polls `check` until it returns a truthy value or the time runs out (then throws, naming `what`). */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 15_000, intervalMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The agentbus command, as a user runs it. */
export const AGENTBUS_BIN = fileURLToPath(import.meta.resolve('@agentbus/cli/bin'));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON lines (for --json). */
  json<T = Record<string, unknown>>(): T[];
}

/** Runs `agentbus <args>` in a child process and collects its output. */
export function runCli(args: string[], options: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  refuseInUnitTier(`agentbus ${args[0] ?? ''}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AGENTBUS_BIN, ...args], {
      cwd: options.cwd ?? tempDir('agentbus-cli-'),
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout,
        stderr,
        json: <T>() => stdout.split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line) as T),
      });
    });
  });
}
