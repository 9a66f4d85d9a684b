import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentbusError } from '@agentbus/contracts';
import { freePort } from '@agentbus/local-nats';
import { agentbusTopology, applyTopology, detectReplicas } from '@agentbus/streams';
import { stringOption, UsageError, type Command, type CommandContext } from '../command.ts';
import { startEmbeddedNats } from '../embedded.ts';
import type { ServiceName } from '../loop.ts';

/** The file `node services/<name>` runs: each service package @agentbus/<name> exports it as `./main`. */
const serviceEntry = (name: ServiceName) => fileURLToPath(import.meta.resolve(`@agentbus/${name}/main`));

interface Supervised {
  name: ServiceName;
  port: number;
  logPath: string;
  child: ChildProcess | undefined;
  restarts: number;
  stopping: boolean;
}

/** The service registry `up` uses: AGENTBUS_CONFIG, else ./agentbus.config.json, else an empty one it creates. */
function registryPath(ctx: CommandContext): { path: string; created: boolean } {
  if (ctx.config.servicesConfigPath) return { path: resolve(ctx.config.servicesConfigPath), created: false };
  if (existsSync('agentbus.config.json')) return { path: resolve('agentbus.config.json'), created: false };
  const path = join(ctx.config.home, 'agentbus.config.json');
  if (existsSync(path)) return { path, created: false };
  mkdirSync(ctx.config.home, { recursive: true });
  writeFileSync(path, `${JSON.stringify({ version: 1, services: [] }, null, 2)}\n`);
  return { path, created: true };
}

/**
 * Waits until the service answers /readyz. A service whose metrics port was taken between choosing
 * it and listening (another process got it first) exits with `portTaken` (the runtime's
 * ServiceExitCodes.portTaken): it is started again on another free port.
 */
async function waitReady(service: Supervised, env: NodeJS.ProcessEnv, portTaken: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const child = service.child;
    if (!child) break;
    if (child.exitCode === portTaken) {
      service.port = await freePort();
      launch(service, env);
      continue;
    }
    if (child.exitCode !== null) break;
    try {
      if ((await fetch(`http://127.0.0.1:${service.port}/readyz`, { signal: AbortSignal.timeout(1_000) })).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  const tail = readFileSync(service.logPath, 'utf8').trim().split('\n').slice(-5).join('\n');
  throw new AgentbusError('service-not-ready', `${service.name} did not become ready${service.child?.exitCode !== null ? ` (it exited with ${service.child?.exitCode})` : ''}:\n${tail}`, { hint: `read ${service.logPath}` });
}

function launch(service: Supervised, env: NodeJS.ProcessEnv): void {
  const log = openSync(service.logPath, 'a');
  service.child = spawn(process.execPath, [serviceEntry(service.name)], {
    // The service stops by itself when this process is gone (killed without a chance to stop it).
    env: { ...env, METRICS_PORT: String(service.port), AGENTBUS_SUPERVISOR_PID: String(process.pid) },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
}

/**
 * Resolves when the process that started `up` is gone, if that process is npm (`npm start`,
 * `npx agentbus up`): npm may die of a SIGTERM without passing it on (`npx` runs us under a
 * shell that does not forward it), which would leave every service running. A shell or a service
 * manager that started `up` on purpose and then exits (nohup) does not stop it.
 */
function launcherGone(launchedByNpm: boolean): Promise<string> {
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

export const up: Command = {
  path: ['up'],
  summary: 'start everything locally: NATS (embedded unless NATS_URL), the streams, and every service; Ctrl-C stops them',
  usage: '[--services deployer,health-monitor,…]',
  options: { services: { type: 'string' } },
  async run(ctx, args) {
    // Loaded here, not at start-up: the services are the heaviest modules of the CLI.
    const { serviceNames } = await import('../loop.ts');
    const { ServiceExitCodes } = await import('@agentbus/runtime');
    const { loadFleetConfig } = await import('@agentbus/fleet');
    const wanted = (stringOption(args, 'services')?.split(',').map((s) => s.trim()) ?? serviceNames) as ServiceName[];
    const unknown = wanted.filter((name) => !serviceNames.includes(name));
    if (unknown.length) throw new UsageError(`unknown service(s): ${unknown.join(', ')}`, `known: ${serviceNames.join(', ')}`);

    let natsUrl: string | undefined = ctx.config.natsUrl;
    if (natsUrl === undefined) {
      const embedded = await startEmbeddedNats({ home: ctx.config.home, binary: ctx.config.natsServerBinary, advertise: true });
      ctx.onExit(() => embedded.release());
      if (!embedded.owned) throw new AgentbusError('already-up', `agentbus is already up in ${ctx.config.home} (NATS at ${embedded.url})`, { hint: 'stop the other `agentbus up` first (Ctrl-C in its terminal)' });
      natsUrl = embedded.url;
    }
    const nc = await ctx.nats();
    const report = await applyTopology(nc, agentbusTopology({ replicas: detectReplicas(nc) }));
    const registry = registryPath(ctx);
    const fleet = loadFleetConfig(registry.path); // fails here, with every problem named, rather than in each service
    ctx.out.line(`NATS        ${natsUrl}${ctx.config.natsUrl ? '' : ` (embedded, store in ${join(ctx.config.home, 'nats')})`}`);
    ctx.out.line(`streams     ${report.changed ? `applied (${report.changes.filter((c) => c.action !== 'unchanged').length} changes)` : 'up to date'}`);
    ctx.out.line(`registry    ${registry.path}: ${fleet.services.length} service(s) under watch${registry.created ? ' (created empty: add services, see infra/config/agentbus.example.json)' : ''}`);
    ctx.out.data({ nats: natsUrl, registry: registry.path, services: fleet.services.map((s) => s.name) });

    const logDir = join(ctx.config.home, 'logs');
    mkdirSync(logDir, { recursive: true });
    const env: NodeJS.ProcessEnv = { ...process.env, NATS_URL: natsUrl, AGENTBUS_CONFIG: registry.path };
    const supervised: Supervised[] = [];
    for (const name of wanted) supervised.push({ name, port: await freePort(), logPath: join(logDir, `${name}.log`), child: undefined, restarts: 0, stopping: false });

    const stopAll = async () => {
      for (const service of supervised) service.stopping = true;
      await Promise.all(
        supervised.map(async (service) => {
          const child = service.child;
          if (!child || child.exitCode !== null) return;
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 35_000);
          await exited;
          clearTimeout(timer);
        }),
      );
    };
    ctx.onExit(stopAll);

    for (const service of supervised) launch(service, env); // all at once; each becomes ready on its own
    const readiness = supervised.map((service) => waitReady(service, env, ServiceExitCodes.portTaken, 60_000));
    for (const ready of readiness) ready.catch(() => {}); // each is awaited below, in order; the first failure is reported
    for (const [index, service] of supervised.entries()) {
      await readiness[index];
      ctx.out.line(`${service.name.padEnd(14)}  ready  metrics http://127.0.0.1:${service.port}/metrics  log ${service.logPath}`);
      ctx.out.data({ service: service.name, pid: service.child?.pid, metrics: `http://127.0.0.1:${service.port}/metrics`, log: service.logPath });
      service.child?.on('exit', function restart(code, signal) {
        if (service.stopping) return;
        service.restarts++;
        const delay = Math.min(30_000, 1_000 * 2 ** Math.min(service.restarts - 1, 5));
        ctx.out.note(`agentbus: ${service.name} exited (${signal ?? `code ${code}`}); restarting in ${delay} ms (see ${service.logPath})`);
        const relaunchOn = code === ServiceExitCodes.portTaken ? freePort() : Promise.resolve(service.port);
        setTimeout(() => {
          void relaunchOn.then((port) => {
            if (service.stopping) return;
            if (port !== service.port) ctx.out.note(`agentbus: ${service.name}'s metrics port was taken; its metrics are now at http://127.0.0.1:${port}/metrics`);
            service.port = port;
            launch(service, env);
            service.child?.on('exit', restart);
          });
        }, delay).unref();
      });
    }
    ctx.out.line('agentbus is up. Ctrl-C stops every service cleanly.');
    const signal = await Promise.race([ctx.stopSignal, launcherGone(ctx.config.launchedByNpm)]);
    ctx.out.line(`${signal}: stopping the services (each drains its running work)…`);
    await stopAll();
    ctx.out.line('stopped.');
    return 0;
  },
};
