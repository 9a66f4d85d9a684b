import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelayMs, type BackoffOptions } from '@agentbus/bus';
import { AgentbusError } from '@agentbus/contracts';
import { freePort } from '@agentbus/local-nats';
import { ServiceExitCodes } from '@agentbus/runtime';
import { PlatformErrorCodes } from './errors.ts';
import { serviceEntry, type ServiceName } from './services.ts';

/** What the supervisor does when a service process that was ready exits by itself. */
export const RestartPolicies = {
  /** Start it again after a delay that doubles with each restart (1 s up to 30 s), on another port when its port was taken (`agentbus up`). */
  always: 'always',
  /** Leave it down (a test that kills a service on purpose). */
  never: 'never',
} as const;
export type RestartPolicy = (typeof RestartPolicies)[keyof typeof RestartPolicies];

/** The wait before restart number n: 1 s, doubling up to 30 s. */
const RESTART_BACKOFF: BackoffOptions = { baseMs: 1_000, maxMs: 30_000, maxDoublings: 5 };

/** What happened to a supervised service after it was ready (the caller decides how to tell it). */
export type SupervisorEvent =
  | { type: 'restarting'; service: SupervisedService; code: number | null; signal: NodeJS.Signals | null; delayMs: number }
  /** Its metrics port was taken when it restarted: it now listens on service.port. */
  | { type: 'port-moved'; service: SupervisedService };

export interface SupervisorOptions {
  /** The services' whole environment; each process also gets METRICS_PORT (a free port) and AGENTBUS_SUPERVISOR_PID. */
  env: Record<string, string | undefined>;
  /** The file a service's stdout and stderr are appended to (its folder is created). */
  logPath: (name: ServiceName) => string;
  restart: RestartPolicy;
  /** How long a service has to answer /readyz. @default 60_000 */
  readyTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before it sends SIGKILL. @default 35_000 */
  killAfterMs?: number;
  onEvent?: (event: SupervisorEvent) => void;
}

/**
 * One service run as its own process (`node services/<name>`) by a Supervisor. `child`, `port`
 * and `exited` are those of the current process: a relaunch (port taken, restart policy)
 * replaces them.
 */
export class SupervisedService {
  /**
   * Resolves once the service answers /readyz. A process whose metrics port was taken between
   * choosing it and listening on it (it exits with ServiceExitCodes.portTaken) is started again
   * on another free port first. Rejects with AgentbusError `service-not-ready` (the tail of its
   * log in the message) when it exits otherwise or does not answer in time.
   */
  readonly ready: Promise<void>;
  readonly logPath: string;
  #port: number;
  #child!: ChildProcess;
  #exited!: Promise<number | NodeJS.Signals>;
  #restarts = 0;
  #stopping = false;

  constructor(
    readonly name: ServiceName,
    port: number,
    private readonly options: SupervisorOptions,
  ) {
    this.#port = port;
    this.logPath = options.logPath(name);
    mkdirSync(dirname(this.logPath), { recursive: true });
    this.#launch();
    this.ready = this.#waitReady().then(() => {
      if (options.restart === RestartPolicies.always) this.#restartOnExit();
    });
    this.ready.catch(() => {}); // the caller awaits it; an unawaited failure must not crash the process
  }

  get child(): ChildProcess {
    return this.#child;
  }

  get port(): number {
    return this.#port;
  }

  get metricsUrl(): string {
    return `http://127.0.0.1:${this.#port}/metrics`;
  }

  /** How often the restart policy has started it again. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Resolves with the current process's exit signal, or its exit code. */
  get exited(): Promise<number | NodeJS.Signals> {
    return this.#exited;
  }

  /** Stops it for good: SIGTERM (the service drains), SIGKILL after killAfterMs; never relaunched afterwards. */
  async stop(killAfterMs: number): Promise<void> {
    this.#stopping = true;
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    await this.#exited;
    clearTimeout(timer);
  }

  #launch(): void {
    const log = openSync(this.logPath, 'a');
    const child = spawn(process.execPath, [serviceEntry(this.name)], {
      // The service stops by itself when this process is gone (killed without a chance to stop it).
      env: { ...this.options.env, METRICS_PORT: String(this.#port), AGENTBUS_SUPERVISOR_PID: String(process.pid) },
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code ?? 1)));
  }

  async #waitReady(): Promise<void> {
    const deadline = Date.now() + (this.options.readyTimeoutMs ?? 60_000);
    while (Date.now() < deadline && !this.#stopping) {
      const child = this.#child;
      if (child.exitCode === ServiceExitCodes.portTaken) {
        this.#port = await freePort();
        this.#launch();
        continue;
      }
      if (child.exitCode !== null || child.signalCode !== null) break;
      try {
        if ((await fetch(`http://127.0.0.1:${this.#port}/readyz`, { signal: AbortSignal.timeout(1_000) })).ok) return;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    const child = this.#child;
    const ended = child.exitCode !== null ? ` (it exited with ${child.exitCode})` : child.signalCode !== null ? ` (it was killed by ${child.signalCode})` : '';
    throw new AgentbusError(PlatformErrorCodes.serviceNotReady, `${this.name} did not become ready${ended}:\n${tail(this.logPath, 5)}`, { hint: `read ${this.logPath}` });
  }

  #restartOnExit(): void {
    const restart = (code: number | null, signal: NodeJS.Signals | null) => {
      if (this.#stopping) return;
      this.#restarts++;
      const delayMs = backoffDelayMs(this.#restarts, RESTART_BACKOFF);
      this.options.onEvent?.({ type: 'restarting', service: this, code, signal, delayMs });
      const relaunchOn = code === ServiceExitCodes.portTaken ? freePort() : Promise.resolve(this.#port);
      setTimeout(() => {
        void relaunchOn.then((port) => {
          if (this.#stopping) return;
          const moved = port !== this.#port;
          this.#port = port;
          if (moved) this.options.onEvent?.({ type: 'port-moved', service: this });
          this.#launch();
          this.#child.on('exit', restart);
        });
      }, delayMs).unref();
    };
    this.#child.on('exit', restart);
  }
}

/**
 * Runs agentbus services as processes of their own: launches them, waits until each is ready,
 * applies the restart policy, and stops them all. A service may be started more than once (a
 * second instance beside the first, or again after it was killed).
 */
export class Supervisor {
  readonly #services: SupervisedService[] = [];

  constructor(private readonly options: SupervisorOptions) {}

  /** Every service launched, in launch order. */
  get services(): readonly SupervisedService[] {
    return this.#services;
  }

  /** Launches a process of the service on a free port; it is ready when `ready` resolves. */
  async launch(name: ServiceName): Promise<SupervisedService> {
    const service = new SupervisedService(name, await freePort(), this.options);
    this.#services.push(service);
    return service;
  }

  /** Launches the service and waits until it is ready. */
  async start(name: ServiceName): Promise<SupervisedService> {
    const service = await this.launch(name);
    await service.ready;
    return service;
  }

  /**
   * Launches every service at once (each becomes ready on its own), then waits for each in the
   * order given, calling onReady as it is. Throws the first failure in that order; the services
   * keep running until stop().
   */
  async startAll(names: readonly ServiceName[], options: { onReady?: (service: SupervisedService) => void } = {}): Promise<SupervisedService[]> {
    const launched: SupervisedService[] = [];
    for (const name of names) launched.push(await this.launch(name));
    for (const service of launched) {
      await service.ready;
      options.onReady?.(service);
    }
    return launched;
  }

  /** Stops every service at once (each drains its running work); resolves when all have exited. */
  async stop(): Promise<void> {
    await Promise.all(this.#services.map((service) => service.stop(this.options.killAfterMs ?? 35_000)));
  }
}

/**
 * Resolves when the process that started this one is gone, if that process is npm (`npm start`,
 * `npx agentbus up`): npm may die of a SIGTERM without passing it on (`npx` runs us under a
 * shell that does not forward it), which would leave every service running. A shell or a
 * service manager that started us on purpose and then exits (nohup) is no reason to stop.
 */
export function launcherGone(launchedByNpm: boolean): Promise<string> {
  if (!launchedByNpm) return new Promise<never>(() => {});
  const parent = process.ppid;
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (process.ppid === parent) return;
      clearInterval(timer);
      resolve(`npm (pid ${parent}) is gone`);
    }, 500);
    timer.unref();
  });
}

function tail(path: string, lines: number): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
