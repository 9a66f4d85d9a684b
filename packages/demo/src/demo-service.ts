import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentbusError } from '@agentbus/contracts';
import { DemoErrorCodes } from './errors.ts';
import { parseFleetConfig, runDeployCommand, type DeployCommand, type DeployCommandResult, type FleetConfig, type FleetServiceInput, type RollbackStrategy } from '@agentbus/fleet';
import { GitRepo, initBareRepository, runGit } from '@agentbus/git';
import { freePort } from '@agentbus/local-nats';
import type { MetricCheckInput } from '@agentbus/health';
import { isRunning } from '../service/process-liveness.mjs';
import { serverSource, type ServiceVersion } from './service-source.ts';
import { startTraffic, type Traffic, type TrafficOptions } from './traffic.ts';

const DEPLOY_SCRIPT = fileURLToPath(new URL('../service/deploy-service.mjs', import.meta.url));

/** The feature branches pushed to the demo's origin, one per scenario. */
export const DemoBranches = {
  /** Seed 000: merging it makes /health crash the process; later probes are refused. */
  broken: 'feature/phase2-humanrail-channel',
  /** A change that stays healthy. */
  good: 'feature/status-endpoint',
  /** /health fails once after the restart, then passes: one flaky probe. */
  flaky: 'feature/warm-cache',
  /** The new version exits before listening: the deploy command itself fails, with the error on stderr. */
  crashOnStart: 'feature/config-file-limits',
  /** Every 2nd /api/route answers 500 (upstream_timeout); /health stays ok: an error-rate regression. */
  errorSpike: 'feature/bulk-routing',
  /** /api/route answers 200 but counts a new error type (alias_lookup_failed) on every 5th request; /health stays ok. */
  newErrorType: 'feature/channel-aliases',
  /** /api/route takes ~400 ms; /health stays ok: a latency regression. */
  slow: 'feature/route-cache',
  /** Healthy for degradeAfterMs after its start, then /health 503 and every 2nd /api/route 500 (pool_exhausted): a follow-up check's case. */
  degradesLater: 'feature/connection-pool',
} as const satisfies Record<Exclude<ServiceVersion, 'base'>, string>;

export interface DemoServiceOptions {
  /** A directory the demo may fill (a temp dir); everything goes into `<dir>/<name>`. */
  dir: string;
  /** Default `primerouter`, the service of seed 000. */
  name?: string;
  /** Default `main`. */
  branch?: string;
  /** Default: a free port on 127.0.0.1. */
  port?: number;
  /** How long the deploy script waits for the server to listen. Default 5 000 ms. */
  startTimeoutMs?: number;
  /**
   * How long the `degradesLater` version stays healthy after it starts (DEMO_DEGRADE_AFTER_MS in
   * the deploy command's environment). Default: unset, and the server's own 4 000 ms.
   */
  degradeAfterMs?: number;
}

/** Settings of the demo's service registry entry; the defaults make the loop fast (stabilization 0). */
export interface DemoConfigOptions {
  stabilizationMs?: number;
  probes?: number;
  probeIntervalMs?: number;
  consecutiveFailures?: number;
  strategy?: RollbackStrategy;
  healthyWithinMs?: number;
  /** Metric checks (need a `prometheus` section in the registry). Default none. */
  metrics?: MetricCheckInput[];
  /** Default: the registry's (+1 h, +4 h, +12 h). */
  followupOffsetsMs?: number[];
}

export interface DemoService {
  name: string;
  branch: string;
  /** `<dir>/<name>`: everything the demo made; cleanup() removes it. */
  root: string;
  /** The bare "origin" repository. */
  originPath: string;
  /** The production working clone the platform merges into and deploys from. */
  clonePath: string;
  /** Pid file, server log and flag files of the running service. */
  stateDir: string;
  port: number;
  baseUrl: string;
  healthUrl: string;
  /** `${baseUrl}/api/route`: the work endpoint, what traffic and error rates are about. */
  apiUrl: string;
  /** `127.0.0.1:<port>`: the target a Prometheus scrape config lists for this service (path /metrics). */
  metricsTarget: string;
  /** The commit on main before any deploy. */
  initialCommit: string;
  branches: typeof DemoBranches;
  /** The deploy command as the registry has it: node deploy-service.mjs in the clone. */
  deployCommand: DeployCommand;
  /** The registry entry of this service (two checks: fatal /health, warning /). */
  serviceConfig(options?: DemoConfigOptions): FleetServiceInput;
  /** A validated registry with just this service. */
  fleetConfig(options?: DemoConfigOptions): FleetConfig;
  /** Writes the registry file (JSON) and returns its path. */
  writeFleetConfig(path: string, options?: DemoConfigOptions): string;
  /** Runs the deploy command on the clone as it is: the first start, or a restart. Rejects like runDeployCommand. */
  deploy(): Promise<DeployCommandResult>;
  /** The server's pid when one is running. */
  runningPid(): number | undefined;
  /** How many requests to `path` the running server has answered (its /metrics; 0 when it does not answer). */
  requestCount(path: string): Promise<number>;
  /** Makes /health answer 503 (an upstream dependency down): a failure no deploy caused. */
  setDependencyDown(down: boolean): void;
  /**
   * Makes that share (0..1, in steps of 0.001) of /api/route requests answer 500 (upstream_timeout) on
   * every version, from the next request on: an error rate no deploy caused. 0 removes the flag.
   * Throws AgentbusError `demo-invalid-option` for anything outside 0..1.
   */
  setErrorRate(fraction: number): void;
  /**
   * Sends real HTTP traffic to /api/route (see traffic.ts) until stop(), which resolves with the
   * totals once nothing is in flight. cleanup() stops traffic still running.
   */
  startTraffic(options?: TrafficOptions): Traffic;
  /** Stops the server (by its pid file); safe to call twice. */
  stop(): Promise<void>;
  /** stop(), then removes `root`. */
  cleanup(): Promise<void>;
}

const AGENT_IDENTITY = {
  GIT_AUTHOR_NAME: 'Coding Agent',
  GIT_AUTHOR_EMAIL: 'agent@demo.agentbus.invalid',
  GIT_COMMITTER_NAME: 'Coding Agent',
  GIT_COMMITTER_EMAIL: 'agent@demo.agentbus.invalid',
};

/**
 * Builds seed 000 in `dir`: a bare origin with a small node:http service on `main` and one
 * feature branch per scenario (DemoBranches), pushed by a coding agent's own clone; the
 * production working clone; the deploy command. `<dir>/<name>` must not exist yet (AgentbusError
 * `demo-exists`). Nothing is started: call deploy() for the first
 * start, and cleanup() (or stop()) when done. No process outlives cleanup(); a server whose pid
 * file disappears (its temp dir removed) exits on its own within a second.
 */
export async function createDemoService(options: DemoServiceOptions): Promise<DemoService> {
  const name = options.name ?? 'primerouter';
  const branch = options.branch ?? 'main';
  const root = resolve(options.dir, name);
  const originPath = join(root, 'origin.git');
  const agentPath = join(root, 'agent');
  const clonePath = join(root, 'clone');
  const stateDir = join(root, 'run');
  if (existsSync(root)) {
    throw new AgentbusError(DemoErrorCodes.demoExists, `${root} already exists`, { hint: 'give the demo an empty directory, or another name; cleanup() removes what it made' });
  }
  const degradeAfterMs = options.degradeAfterMs;
  if (degradeAfterMs !== undefined && !(Number.isInteger(degradeAfterMs) && degradeAfterMs >= 0)) {
    throw new AgentbusError(DemoErrorCodes.invalidOption, `degradeAfterMs ${degradeAfterMs} is not a whole number of milliseconds >= 0`, { hint: 'pass e.g. 1000, or leave it out for the server\'s 4000' });
  }
  const port = options.port ?? (await freePort());
  mkdirSync(stateDir, { recursive: true });

  await initBareRepository(originPath, { defaultBranch: branch });
  const agent = (args: string[]) => runGit(args, { cwd: agentPath, env: AGENT_IDENTITY });
  await runGit(['clone', '--quiet', '--', originPath, agentPath], { cwd: root });
  const commitVersion = async (version: ServiceVersion, message: string) => {
    writeFileSync(join(agentPath, 'server.mjs'), serverSource(name, version));
    await agent(['add', '--', 'server.mjs']);
    await agent(['commit', '--quiet', '-m', message]);
  };
  await agent(['checkout', '--quiet', '-b', branch]);
  writeFileSync(join(agentPath, 'package.json'), `${JSON.stringify({ name, version: '1.0.0', private: true, type: 'module', main: 'server.mjs' }, null, 2)}\n`);
  writeFileSync(join(agentPath, 'README.md'), `# ${name}\n\nA small HTTP service. \`GET /health\` answers \`{"status":"ok"}\` when it is healthy, \`GET /api/route\` routes a message, \`GET /metrics\` is for Prometheus.\n`);
  await agent(['add', '--', 'package.json', 'README.md']);
  await commitVersion('base', `${name}: serve /, /health, /api/route and /metrics`);
  const messages: Record<keyof typeof DemoBranches, string> = {
    broken: 'Report the humanrail channel in /health',
    good: 'Add a /status endpoint',
    flaky: 'Warm the cache on the first health check',
    crashOnStart: 'Read routing limits from config/limits.json',
    errorSpike: 'Route bulk messages through the bulk upstream',
    newErrorType: 'Resolve channel aliases when routing',
    slow: 'Cache routes, rebuilt on each request',
    degradesLater: 'Pool upstream connections',
  };
  for (const [scenario, feature] of Object.entries(DemoBranches) as [keyof typeof DemoBranches, string][]) {
    await agent(['checkout', '--quiet', '-b', feature, branch]);
    await commitVersion(scenario, messages[scenario]);
  }
  await agent(['push', '--quiet', 'origin', `refs/heads/${branch}`, ...Object.values(DemoBranches).map((feature) => `refs/heads/${feature}`)]);
  const initialCommit = (await runGit(['rev-parse', `refs/heads/${branch}`], { cwd: agentPath })).stdout.trim();

  const clone = await GitRepo.clone(originPath, clonePath, { branch });
  await runGit(['config', 'user.name', 'agentbus demo'], { cwd: clone.path });
  await runGit(['config', 'user.email', 'agentbus@demo.agentbus.invalid'], { cwd: clone.path });

  const deployCommand: DeployCommand = {
    command: [process.execPath, DEPLOY_SCRIPT],
    cwd: clonePath,
    env: {
      DEMO_SERVICE_PORT: String(port),
      DEMO_SERVICE_STATE_DIR: stateDir,
      DEMO_SERVICE_START_TIMEOUT_MS: String(options.startTimeoutMs ?? 5_000),
      ...(degradeAfterMs === undefined ? {} : { DEMO_DEGRADE_AFTER_MS: String(degradeAfterMs) }),
    },
    timeoutMs: (options.startTimeoutMs ?? 5_000) + 10_000,
  };
  const baseUrl = `http://127.0.0.1:${port}`;
  const pidFile = join(stateDir, 'service.pid');
  const dependencyFlag = join(stateDir, 'dependency-down');
  const errorRateFlag = join(stateDir, 'error-rate');
  const apiUrl = `${baseUrl}/api/route`;
  const traffics = new Set<Traffic>();

  const serviceConfig = (config: DemoConfigOptions = {}): FleetServiceInput => ({
    name,
    description: `The seed-000 demo service in ${root}`,
    git: { path: clonePath, branch, remote: 'origin' },
    deploy: { command: [...deployCommand.command], cwd: clonePath, env: { ...deployCommand.env }, timeoutMs: deployCommand.timeoutMs },
    health: {
      stabilizationMs: config.stabilizationMs ?? 0,
      probes: config.probes ?? 3,
      probeIntervalMs: config.probeIntervalMs ?? 200,
      consecutiveFailures: config.consecutiveFailures ?? 2,
      checks: [
        { name: 'health', url: `${baseUrl}/health`, expectStatus: 200, expectJson: { status: 'ok' }, latencyThresholdMs: 1_000, severity: 'fatal', timeoutMs: 1_000 },
        { name: 'home', url: `${baseUrl}/`, latencyThresholdMs: 500, severity: 'warning', timeoutMs: 1_000 },
      ],
      ...(config.metrics ? { metrics: config.metrics } : {}),
      ...(config.followupOffsetsMs ? { followupOffsetsMs: config.followupOffsetsMs } : {}),
    },
    rollback: { strategy: config.strategy ?? 'git-revert', healthyWithinMs: config.healthyWithinMs ?? 10_000 },
  });
  const fleetConfig = (config: DemoConfigOptions = {}) => parseFleetConfig({ version: 1, services: [serviceConfig(config)] }, { source: 'demo fleet configuration' });
  const stopCommand: DeployCommand = { ...deployCommand, command: [...deployCommand.command, 'stop'], cwd: root };

  const runningPid = (): number | undefined => {
    try {
      const { pid } = JSON.parse(readFileSync(pidFile, 'utf8')) as { pid?: unknown };
      return typeof pid === 'number' && isRunning(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  };
  const stop = async () => {
    try {
      await runDeployCommand(stopCommand);
    } catch (error) {
      throw new AgentbusError(DemoErrorCodes.demoStopFailed, `could not stop the demo service ${name}`, {
        cause: error,
        hint: `kill the pid in ${pidFile} by hand`,
      });
    }
  };

  return {
    name,
    branch,
    root,
    originPath,
    clonePath,
    stateDir,
    port,
    baseUrl,
    healthUrl: `${baseUrl}/health`,
    apiUrl,
    metricsTarget: `127.0.0.1:${port}`,
    initialCommit,
    branches: DemoBranches,
    deployCommand,
    serviceConfig,
    fleetConfig,
    writeFleetConfig(path, config) {
      writeFileSync(path, `${JSON.stringify({ version: 1, services: [serviceConfig(config)] }, null, 2)}\n`);
      return resolve(path);
    },
    deploy: () => runDeployCommand(deployCommand),
    runningPid,
    async requestCount(path) {
      try {
        const text = await (await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
        let total = 0;
        for (const match of text.matchAll(/^demo_http_requests_total\{path="([^"]*)",code="\d+"\} (\d+)$/gm)) if (match[1] === path) total += Number(match[2]);
        return total;
      } catch {
        return 0;
      }
    },
    setDependencyDown(down) {
      if (down) writeFileSync(dependencyFlag, 'down\n');
      else rmSync(dependencyFlag, { force: true });
    },
    setErrorRate(fraction) {
      if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 1)) {
        throw new AgentbusError(DemoErrorCodes.invalidOption, `error rate ${fraction} is not a fraction between 0 and 1`, { hint: 'pass e.g. 0.25 for one /api/route request in four, or 0 for none' });
      }
      if (fraction === 0) {
        rmSync(errorRateFlag, { force: true });
        return;
      }
      // Renamed into place: the server reads the flag on every request and must never see half of it.
      writeFileSync(`${errorRateFlag}.tmp`, `${fraction}\n`);
      renameSync(`${errorRateFlag}.tmp`, errorRateFlag);
    },
    startTraffic(trafficOptions) {
      const traffic = startTraffic(apiUrl, trafficOptions);
      const tracked: Traffic = {
        stop: () => {
          traffics.delete(tracked);
          return traffic.stop();
        },
      };
      traffics.add(tracked);
      return tracked;
    },
    stop,
    async cleanup() {
      await Promise.all([...traffics].map((traffic) => traffic.stop()));
      await stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
