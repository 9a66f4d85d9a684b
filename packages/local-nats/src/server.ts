import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentbusError } from '@agentbus/contracts';
import { findNatsServerBinary } from './binary.ts';
import { freePort } from './ports.ts';

/** infra/nats/<kind>.conf (package @agentbus/infra): the configs the test kit, `agentbus up` and the production notes share. */
function natsConfigPath(kind: 'single' | 'cluster'): string {
  return fileURLToPath(import.meta.resolve(`@agentbus/infra/nats/${kind}.conf`));
}

export interface ClusterMembership {
  name: string;
  port: number;
  routes: string[];
}

export interface NatsServerOptions {
  /** JetStream store directory; kept across restart(). */
  storeDir: string;
  /** Client port; a free one when omitted. */
  port?: number;
  /** Monitoring port (/healthz, /jsz); a free one when omitted. */
  httpPort?: number;
  serverName?: string;
  /** Path to the nats-server binary; searched for when omitted. */
  binary?: string;
  /** Server log file; `<storeDir>/nats-server.log` when omitted (inside the store, so removing the store removes it). */
  logFile?: string;
  cluster?: ClusterMembership;
  /** How long to wait for the server to report healthy. Default 20 s. */
  readyTimeoutMs?: number;
  /**
   * Config fragments added to infra/nats's (absolute paths): the `authorization` block `agentbus
   * auth init` writes, a `tls` block. The server then runs a config beside its log that includes
   * them all.
   */
  includes?: string[];
}

const liveServers = new Set<NatsServer>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test or CLI that dies must not leave servers behind: kill them synchronously on exit.
  process.on('exit', () => {
    for (const server of liveServers) server.killSync();
  });
}

/**
 * One real nats-server child process with JetStream, configured from infra/nats.
 * start() resolves when /healthz answers ok (and, in a cluster, a meta leader exists).
 */
export class NatsServer {
  readonly storeDir: string;
  readonly logFile: string;
  readonly serverName: string;
  readonly binary: string;
  readonly version: string;
  port = 0;
  httpPort = 0;
  private readonly options: NatsServerOptions;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(options: NatsServerOptions) {
    this.options = options;
    this.storeDir = options.storeDir;
    this.logFile = options.logFile ?? join(options.storeDir, 'nats-server.log');
    this.serverName = options.serverName ?? 'agentbus';
    const binary = findNatsServerBinary(options.binary);
    this.binary = binary.path;
    this.version = binary.version;
  }

  static async start(options: NatsServerOptions): Promise<NatsServer> {
    const server = new NatsServer(options);
    await server.launch();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process again on the same ports with the same store (after stop or kill). */
  async restart(): Promise<void> {
    if (this.running) await this.stop();
    await this.launch();
  }

  /** Graceful stop (SIGTERM, then SIGKILL after 10 s). */
  async stop(): Promise<void> {
    await this.signal('SIGTERM', 10_000);
  }

  /** Crash the server (SIGKILL): nothing is flushed beyond what the OS already has. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL', 10_000);
  }

  /** For exit hooks only: no waiting. */
  killSync(): void {
    if (this.running) this.child?.kill('SIGKILL');
  }

  private async signal(signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
    liveServers.delete(this);
  }

  private async launch(): Promise<void> {
    const fixedPorts = this.port !== 0 || this.options.port !== undefined;
    for (let attempt = 1; ; attempt++) {
      this.port = this.port || this.options.port || (await freePort());
      this.httpPort = this.httpPort || this.options.httpPort || (await freePort());
      try {
        await this.spawnOnce();
        return;
      } catch (error) {
        const portClash = /address already in use/i.test(String((error as Error).message));
        if (!portClash || fixedPorts || attempt >= 5) throw error;
        this.port = 0;
        this.httpPort = 0;
      }
    }
  }

  private async spawnOnce(): Promise<void> {
    mkdirSync(this.storeDir, { recursive: true });
    mkdirSync(dirname(this.logFile), { recursive: true });
    const cluster = this.options.cluster;
    const config = this.configFile(natsConfigPath(cluster ? 'cluster' : 'single'));
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      NATS_SERVER_NAME: this.serverName,
      NATS_PORT: String(this.port),
      NATS_HTTP_PORT: String(this.httpPort),
      NATS_STORE_DIR: this.storeDir,
    };
    if (cluster) {
      env.NATS_CLUSTER_NAME = cluster.name;
      env.NATS_CLUSTER_PORT = String(cluster.port);
      cluster.routes.forEach((route, i) => (env[`NATS_ROUTE_${i + 1}`] = route));
    }
    const logStart = safeSize(this.logFile);
    const child = spawn(this.binary, ['-c', config, '-l', this.logFile], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    liveServers.add(this);
    installExitHook();

    const deadline = Date.now() + (this.options.readyTimeoutMs ?? 20_000);
    while (Date.now() < deadline) {
      if (!this.running) {
        liveServers.delete(this);
        const log = readTail(this.logFile, logStart);
        throw new AgentbusError('nats-server-failed', `nats-server exited during start: ${(stderr + log).trim().slice(-800)}`, {
          hint: `see ${this.logFile}`,
        });
      }
      if (await this.isReady()) return;
      await sleep(50);
    }
    await this.kill();
    throw new AgentbusError('nats-server-failed', `nats-server did not become ready within ${this.options.readyTimeoutMs ?? 20_000} ms`, {
      hint: `see ${this.logFile}`,
      retryable: true,
    });
  }

  /**
   * The config to run: infra/nats's, or one beside the log that includes it and the fragments.
   * nats-server resolves an include relative to the including file (an absolute path is joined
   * to it), so the includes are written as relative paths.
   */
  private configFile(base: string): string {
    const includes = this.options.includes ?? [];
    if (includes.length === 0) return base;
    const path = join(dirname(this.logFile), `${this.serverName}.conf`);
    const from = dirname(path);
    writeFileSync(path, `# Written by agentbus at each start: infra/nats plus the fragments.\n${[base, ...includes].map((file) => `include "${relative(from, file)}"`).join('\n')}\n`);
    return path;
  }

  private async isReady(): Promise<boolean> {
    try {
      // A cluster node that restarts stays "not current" for its idle consumers long after it
      // serves (2.9.10): ready means up and in contact with the meta leader (js-server-only).
      const health = await fetch(`http://127.0.0.1:${this.httpPort}/healthz${this.options.cluster ? '?js-server-only=true' : ''}`, { signal: AbortSignal.timeout(1000) });
      if (!health.ok) return false;
      if (!this.options.cluster) return true;
      const jsz = (await (await fetch(`http://127.0.0.1:${this.httpPort}/jsz`, { signal: AbortSignal.timeout(1000) })).json()) as {
        meta_cluster?: { leader?: string };
      };
      return Boolean(jsz.meta_cluster?.leader);
    } catch {
      return false;
    }
  }
}

function safeSize(file: string): number {
  try {
    return readFileSync(file).length;
  } catch {
    return 0;
  }
}

function readTail(file: string, from: number): string {
  try {
    return readFileSync(file).subarray(from).toString('utf8');
  } catch {
    return '';
  }
}
