import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '@agentbus/local-nats';

/** Debian's `prometheus` package (installed by infra/setup/ensure.sh); PROMETHEUS_BIN overrides. */
export function findPrometheusBinary(): string {
  const candidates = [process.env.PROMETHEUS_BIN, '/usr/bin/prometheus'].filter((path): path is string => Boolean(path));
  const found = candidates.find((path) => existsSync(path));
  if (!found) throw new Error(`prometheus not found (looked at ${candidates.join(', ')}): run infra/setup/ensure.sh, or apt-get install prometheus`);
  return found;
}

export interface PrometheusOptions {
  /** A directory of the test's own (config, TSDB, log). */
  dir: string;
  /** `host:port` of each /metrics endpoint to scrape (job `services`). */
  targets: string[];
  /** Default 1 000 ms: a change shows in a query within about a second. */
  scrapeIntervalMs?: number;
}

const live = new Set<PrometheusServer>();
let exitHook = false;

/**
 * A private Prometheus on a free loopback port, with its own config and TSDB in the test's
 * directory, scraping `targets` every second. Never the package's own service on :9090. Its
 * first samples are queryable about 5 s after start (the discovery manager's 5 s throttle):
 * waitForTarget() waits for them. stop() or kill() it; restart() keeps port and data.
 */
export class PrometheusServer {
  port = 0;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly configFile: string;
  private readonly logFile: string;

  private constructor(private readonly options: PrometheusOptions) {
    this.configFile = join(options.dir, 'prometheus.yml');
    this.logFile = join(options.dir, 'prometheus.log');
  }

  static async start(options: PrometheusOptions): Promise<PrometheusServer> {
    const server = new PrometheusServer(options);
    mkdirSync(options.dir, { recursive: true });
    server.writeConfig(options.targets);
    for (let attempt = 1; ; attempt++) {
      server.port = await freePort();
      try {
        await server.launch();
        return server;
      } catch (error) {
        if (attempt >= 3 || !/address already in use/i.test(String(error))) throw error;
      }
    }
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Scrapes these targets from now on (the config is rewritten and reloaded). */
  async setTargets(targets: string[]): Promise<void> {
    this.writeConfig(targets);
    const answer = await fetch(`${this.url}/-/reload`, { method: 'POST', signal: AbortSignal.timeout(5_000) });
    if (!answer.ok) throw new Error(`prometheus reload answered ${answer.status}: ${(await answer.text()).slice(0, 300)}`);
  }

  /** Resolves once an instant query sees `up == 1` for `target`: its samples are being stored. */
  async waitForTarget(target: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const query = `up{instance=${JSON.stringify(target)}} == 1`;
    while (Date.now() < deadline) {
      try {
        const answer = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(query)}`, { signal: AbortSignal.timeout(2_000) });
        const body = (await answer.json()) as { data?: { result?: unknown[] } };
        if (body.data?.result?.length) return;
      } catch {
        // not up yet
      }
      await sleep(100);
    }
    throw new Error(`prometheus at ${this.url} did not scrape ${target} within ${timeoutMs} ms; see ${this.logFile}`);
  }

  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** Starts it again on the same port with the same data. */
  async restart(): Promise<void> {
    if (this.running) await this.stop();
    await this.launch();
  }

  private writeConfig(targets: string[]): void {
    const seconds = `${(this.options.scrapeIntervalMs ?? 1_000) / 1_000}s`;
    writeFileSync(
      this.configFile,
      [
        'global:',
        `  scrape_interval: ${seconds}`,
        `  evaluation_interval: ${seconds}`,
        'scrape_configs:',
        '  - job_name: services',
        `    scrape_timeout: ${seconds}`,
        '    static_configs:',
        `      - targets: [${targets.map((target) => JSON.stringify(target)).join(', ')}]`,
        '',
      ].join('\n'),
    );
  }

  private async launch(): Promise<void> {
    const args = [
      `--config.file=${this.configFile}`,
      `--storage.tsdb.path=${join(this.options.dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${this.port}`,
      '--web.enable-lifecycle',
      '--log.level=warn',
    ];
    const child = spawn(findPrometheusBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH } });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      writeFileSync(this.logFile, stderr.slice(-20_000));
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    live.add(this);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const server of live) if (server.running) server.child?.kill('SIGKILL');
      });
    }
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`prometheus exited during start: ${stderr.trim().slice(-800)}`);
      try {
        if ((await fetch(`${this.url}/-/ready`, { signal: AbortSignal.timeout(1_000) })).ok) return;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    await this.kill();
    throw new Error(`prometheus did not become ready within 15 s: ${readTail(this.logFile)}`);
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
    live.delete(this);
  }
}

function readTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-800);
  } catch {
    return '(no log)';
  }
}
