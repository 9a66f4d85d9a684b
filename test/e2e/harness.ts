/**
 * The end-to-end harness: the whole loop with real parts, one per test. A nats-server on free
 * ports with the agentbus topology, the seed-000 demo service (a bare origin, the production
 * working clone, a real node:http server started by its deploy script), a service registry whose
 * deploy command records every run (fixtures/recording-deploy.mjs), and the agentbus services
 * started inside the test process (their JSON logs in a file) or as processes a test may kill.
 *
 * stop() always stops everything it started, in order: services, spawned processes, held deploy
 * commands, the demo server, the NATS connection and the server.
 */
import type { ChildProcess } from 'node:child_process';
import { chmodSync, createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connectNats, listDeadLetters, natsAuthFrom, Publisher, readStream, type DeadLetter } from '@agentbus/bus';
import { agentbusRegistry, releaseManifestPath, releaseManifestSchema, StreamNames, type AgentbusRegistry, type ReleaseManifest } from '@agentbus/contracts';
import { createDemoService, isRunning, type DemoConfigOptions, type DemoService, type DemoServiceOptions } from '@agentbus/demo';
import { runGit } from '@agentbus/git';
import { collectIncidentEvents, type IncidentEvent } from '@agentbus/incident';
import { deployAndFollow, RestartPolicies, serviceNames, startServicesInProcess, stopServices, Supervisor, type DeployRun, type ServiceName } from '@agentbus/platform';
import type { RunningService } from '@agentbus/runtime';
import { DEFAULT_STATE_BUCKET, openStateBackend, StateStore } from '@agentbus/state';
import { ADMIN_IDENTITY, agentbusTopology, applyTopology, cliConnectionNames, isTimerConsumer, writeCredentialFiles, type ConsumerDefinition, type Topology } from '@agentbus/streams';
import { makeTlsFiles, startNats, startNatsCluster, tempDir, waitFor, type NatsCluster, type NatsServer } from '@agentbus/testkit';

const here = dirname(fileURLToPath(import.meta.url));
const RECORDING_DEPLOY = join(here, 'fixtures', 'recording-deploy.mjs');

/** The registry settings of the e2e loop: no stabilization wait, three probes 50 ms apart, two failed in a row fail a check. */
export const fastRegistry: DemoConfigOptions = { stabilizationMs: 0, probes: 3, probeIntervalMs: 50, consecutiveFailures: 2, healthyWithinMs: 10_000 };

export interface LoopOptions {
  /** The demo service's name. Default `primerouter`, as in seed 000. */
  service?: string;
  /** Several demo services under watch (each its own origin, clone and HTTP server); replaces `service`. */
  services?: readonly string[];
  /** Registry settings over fastRegistry. */
  registry?: DemoConfigOptions;
  /** How the demo service behaves (degradeAfterMs for its degradesLater version) and its port (one service only). */
  demo?: Pick<DemoServiceOptions, 'degradeAfterMs' | 'port'>;
  /** Services run inside the test process. Default: every agentbus service. The others can be spawnService()d. */
  inProcess?: readonly ServiceName[];
  /** Consumer definitions replacing the declared ones (by stream and durable), e.g. a short ack_wait. */
  consumers?: ConsumerDefinition[];
  /** Top-level registry sections (notifications, escalation, postmortems); a function gets the loop's directory. */
  sections?: (dir: string) => Record<string, unknown>;
  /** Environment for the services over the loop's defaults (e.g. HEALTH_WATCH_INTERVAL_MS). */
  env?: Record<string, string>;
  /** Run on a 3-node JetStream cluster (replicas 3) instead of one server. */
  cluster?: boolean;
  /**
   * The server requires an identity (`agentbus auth init`'s keys in `<dir>/auth`): every service
   * runs under its own, the test's connection is the admin, the CLI the operator. @default true
   */
  auth?: boolean;
  /** The server speaks TLS only and verifies client certificates (a CA and certificates made by openssl). */
  tls?: boolean;
  /**
   * A permission the server refused anyone during the test fails it at stop() (every service and
   * the CLI must have what they need), unless the test provokes refusals on purpose.
   */
  allowPermissionViolations?: boolean;
  /** Runs when the demo service is up and before any agentbus service starts (hooks, an outage). */
  beforeServices?: (loop: Loop) => void | Promise<void>;
}

export interface SpawnedService {
  name: ServiceName;
  child: ChildProcess;
  metricsUrl: string;
  /** Resolves with the exit code or signal. */
  exited: Promise<number | NodeJS.Signals>;
}

export interface ManifestVersion {
  number: number;
  agent: string;
  manifest: ReleaseManifest;
}

/** One demo service of the loop, and what a test does with it. */
export interface ServiceUnderTest {
  demo: DemoService;
  /** Publishes a deploy task and follows it to its outcome (deployAndFollow). */
  deploy(ref: string, options?: { timeoutMs?: number; requestedBy?: string; allowReverted?: boolean; dryRun?: boolean }): Promise<DeployRun>;
  /** `releases/<service>`, every version, oldest first. */
  manifests(): Promise<ManifestVersion[]>;
  /** `git <args>` in the bare origin; trimmed stdout. */
  origin(args: string[]): Promise<string>;
  /** `git <args>` in the production working clone; trimmed stdout. */
  clone(args: string[]): Promise<string>;
  /** The origin's branch head, read from origin itself. */
  originHead(): Promise<string>;
  /** Installs an executable hook script in origin (`pre-receive`, `post-receive`, …). */
  originHook(name: string, script: string): void;
  /** Pushes a new branch to origin, off its main branch, with `files` changed in one commit. */
  pushBranch(name: string, files: Record<string, string>): Promise<string>;
  /** How often the registry's deploy command has run (deploys and redeploys, not the demo's first start). */
  deployRuns(): number;
  /** Makes the registry's deploy command wait at the start of run `run` until releaseDeployRun(run). */
  holdDeployRun(run: number): void;
  /** The pid of the deploy command held on run `run`, once it waits. */
  heldDeployPid(run: number): number | undefined;
  releaseDeployRun(run: number): void;
}

/** The loop: the first (or only) demo service's view, and everything shared. */
export interface Loop extends ServiceUnderTest {
  /** The nats-server (with `cluster`: its first node). */
  nats: NatsServer;
  /** The 3-node cluster the loop runs on, when asked for (`cluster: true`). */
  cluster: NatsCluster | undefined;
  /** What the services and the CLI are given as NATS_URL (every node of a cluster). */
  natsUrl: string;
  /** The environment a client of the loop's server needs beyond NATS_URL: its keys and TLS files. */
  natsEnv: Record<string, string>;
  /** NATS_URL and natsEnv: what `agentbus` (as the operator) is run with. */
  cliEnv: Record<string, string>;
  /** The test's own connection (publishing tasks, reading events). */
  nc: NatsConnection;
  dir: string;
  /** Every demo service under watch, in the order given (the first is the loop's own view). */
  services: ServiceUnderTest[];
  /** The service registry file the services read. */
  configPath: string;
  /** The services' JSON logs (in-process and spawned). */
  logPath: string;
  /** The environment every agentbus service of this loop runs with. */
  serviceEnv: Record<string, string>;
  /** Publishes as `e2e-test` (for messages a foreign agent or an operator would send). */
  publisher(): Publisher<AgentbusRegistry>;
  /** Every event of one incident, in stream order. */
  events(correlationId: string): Promise<IncidentEvent[]>;
  /**
   * Edits the data of a document's latest version (its head copy and its version record) in the
   * nats-kv bucket, past the state store, as someone with access to the bucket could: its hash no
   * longer matches. Returns the version's number.
   */
  tamperHead(path: string, mutate: (data: Record<string, unknown>) => void): Promise<number>;
  /** Every event stored on `subject` (wildcards allowed), whatever its incident: type and data. */
  eventsOn(subject: string): Promise<Array<{ type: string; data: Record<string, unknown> }>>;
  /** Waits until the incident has an event of `type` and returns it. */
  waitForEvent(correlationId: string, type: IncidentEvent['type']): Promise<IncidentEvent>;
  /** The deploymentId (= the deploy task's id and correlationId) of the last deploy.merged on the bus. */
  latestDeployment(): Promise<string>;
  /** Waits until the consumers of the running agentbus services have handled everything stored in their streams. */
  waitUntilConsumed(): Promise<void>;
  deadLetters(): Promise<DeadLetter[]>;
  /** Runs `node services/<name>` as its own process (logs to logPath, never restarted) and waits until it is ready. */
  spawnService(name: ServiceName): Promise<SpawnedService>;
  /** The last lines of the services' logs, for failure messages. */
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

/** The refusals in the servers' logs: `<client> <Publish|Subscription> Violation <subject>`, one line each. */
function permissionViolations(servers: readonly NatsServer[]): string[] {
  const lines = servers.flatMap((server) => {
    try {
      return readFileSync(server.logFile, 'utf8').split('\n');
    } catch {
      return [];
    }
  });
  const found = lines.flatMap((line) => {
    const match = /"v[^"]*:nats\.js:([^"]*)" - (Publish|Subscription) Violation - .*Subject "([^"]*)"/.exec(line);
    return match ? [`${match[1]} ${match[2]} ${match[3]}`] : [];
  });
  return [...new Set(found)];
}

/** Starts the whole loop for one test. Call stop() (t.after) whatever happens. */
export async function startLoop(options: LoopOptions = {}): Promise<Loop> {
  const dir = tempDir('agentbus-e2e-');
  const topology = agentbusTopology({ replicas: options.cluster ? 3 : 1, consumers: options.consumers });
  const credentials = options.auth === false ? undefined : writeCredentialFiles(join(dir, 'auth'), topology.consumers);
  const tls = options.tls ? makeTlsFiles(join(dir, 'tls')) : undefined;
  const includes = [credentials?.authorizationFile, tls?.serverFragment].filter((file): file is string => file !== undefined);
  const natsEnv: Record<string, string> = { ...(credentials ? { NATS_CREDENTIALS_DIR: credentials.dir } : {}), ...tls?.clientEnv };
  const cluster = options.cluster ? await startNatsCluster(3, { includes }) : undefined;
  const nats = cluster ? cluster.server(0) : await startNats({ includes });
  const cleanups: Array<() => Promise<unknown> | unknown> = [() => (cluster ? cluster.stop() : nats.stop())];
  const stop = async () => {
    const refused = options.allowPermissionViolations ? [] : permissionViolations(cluster ? cluster.servers : [nats]);
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        process.stderr.write(`e2e harness: clean-up failed: ${String(error)}\n`);
      }
    }
    if (refused.length) throw new Error(`NATS refused permissions during the test (fix the identities in streams/src/identities.ts):\n${refused.join('\n')}`);
  };
  try {
    return await buildLoop(options, { dir, nats, cluster, topology, natsEnv }, cleanups, stop);
  } catch (error) {
    await stop();
    throw error;
  }
}

interface LoopServer {
  dir: string;
  nats: NatsServer;
  cluster: NatsCluster | undefined;
  topology: Topology;
  natsEnv: Record<string, string>;
}

async function buildLoop(options: LoopOptions, server: LoopServer, cleanups: Array<() => Promise<unknown> | unknown>, stop: () => Promise<void>): Promise<Loop> {
  const { dir, nats, cluster, topology, natsEnv } = server;
  const natsUrl = cluster ? cluster.urls.join(',') : nats.url;
  // The test is the admin: it provisions, publishes any type and edits state behind the store's back.
  const nc = await connectNats({ servers: natsUrl, name: cliConnectionNames.admin, ...natsAuthFrom(natsEnv, ADMIN_IDENTITY) });
  cleanups.push(() => nc.close());
  await applyTopology(nc, topology);

  const names = options.services ?? [options.service ?? 'primerouter'];
  const units: Array<{ demo: DemoService; deployDir: string }> = [];
  for (const name of names) {
    const demo = await createDemoService({ dir, name, ...options.demo });
    cleanups.push(() => demo.stop());
    await demo.deploy(); // the healthy version runs before anything happens
    const deployDir = join(dir, 'deploy-runs', name);
    mkdirSync(deployDir, { recursive: true });
    cleanups.push(() => killHeldDeploys(deployDir));
    units.push({ demo, deployDir });
  }
  const registry = {
    version: 1,
    services: units.map(({ demo, deployDir }) => {
      const entry = demo.serviceConfig({ ...fastRegistry, ...options.registry });
      return { ...entry, deploy: { ...entry.deploy, command: [process.execPath, RECORDING_DEPLOY, ...entry.deploy.command], env: { ...entry.deploy.env, E2E_DEPLOY_DIR: deployDir } } };
    }),
    ...options.sections?.(dir),
  };
  const configPath = join(dir, 'agentbus.config.json');
  writeFileSync(configPath, `${JSON.stringify(registry, null, 2)}\n`);

  const logPath = join(dir, 'services.log');
  const log = createWriteStream(logPath, { flags: 'a' });
  cleanups.push(() => new Promise<void>((resolve) => log.end(() => resolve())));
  const serviceEnv: Record<string, string> = {
    NATS_URL: natsUrl,
    ...natsEnv,
    AGENTBUS_CONFIG: configPath,
    METRICS_PORT: '0',
    LOG_LEVEL: 'debug',
    HEALTH_WATCH_INTERVAL_MS: '0',
    SHUTDOWN_GRACE_MS: '5000',
    ...options.env,
  };
  const git = async (cwd: string, args: string[]) => (await runGit(args, { cwd })).stdout.trim();
  let store: StateStore | undefined;
  let publisher: Publisher<AgentbusRegistry> | undefined;
  const spawned: SpawnedService[] = [];
  const supervisor = new Supervisor({ env: { ...process.env, ...serviceEnv }, logPath: () => logPath, restart: RestartPolicies.never, readyTimeoutMs: 30_000, killAfterMs: 5_000 });
  cleanups.push(() => supervisor.stop());

  const viewOf = ({ demo, deployDir }: { demo: DemoService; deployDir: string }): ServiceUnderTest => ({
    demo,
    async deploy(ref, deployOptions = {}) {
      try {
        return await deployAndFollow(nc, { service: demo.name, ref, requestedBy: deployOptions.requestedBy ?? 'e2e-test', allowReverted: deployOptions.allowReverted ?? false, dryRun: deployOptions.dryRun ?? false }, { timeoutMs: deployOptions.timeoutMs ?? 30_000, source: 'e2e-test' });
      } catch (error) {
        throw new Error(`${String(error)}\n--- services log (last lines) ---\n${loop.logTail()}`, { cause: error });
      }
    },
    async manifests() {
      store ??= new StateStore({ backend: await openStateBackend({ backend: 'nats-kv', nc }), agent: 'e2e-test' });
      const path = releaseManifestPath(demo.name);
      const { entries } = await store.history(path);
      const versions: ManifestVersion[] = [];
      for (const entry of [...entries].reverse()) {
        const version = await store.get(path, { version: entry.number });
        versions.push({ number: entry.number, agent: version.envelope.agent, manifest: releaseManifestSchema.parse(version.data) });
      }
      return versions;
    },
    origin: (args) => git(demo.originPath, args),
    clone: (args) => git(demo.clonePath, args),
    originHead: () => git(demo.originPath, ['rev-parse', `refs/heads/${demo.branch}`]),
    originHook(name, script) {
      const path = join(demo.originPath, 'hooks', name);
      writeFileSync(path, `#!/bin/sh\n${script}\n`);
      chmodSync(path, 0o755);
    },
    async pushBranch(name, files) {
      const work = join(dir, `branch-${demo.name}-${name.replace(/\W+/g, '-')}`);
      await runGit(['clone', '--quiet', '--branch', demo.branch, '--', demo.originPath, work], { cwd: dir });
      await git(work, ['checkout', '--quiet', '-b', name]);
      for (const [file, content] of Object.entries(files)) {
        mkdirSync(dirname(join(work, file)), { recursive: true });
        writeFileSync(join(work, file), content);
      }
      await git(work, ['add', '--', ...Object.keys(files)]);
      await git(work, ['-c', 'user.name=Coding Agent', '-c', 'user.email=agent@e2e.invalid', 'commit', '--quiet', '-m', `Change ${Object.keys(files).join(', ')}`]);
      await git(work, ['push', '--quiet', 'origin', `refs/heads/${name}`]);
      return git(work, ['rev-parse', 'HEAD']);
    },
    deployRuns() {
      const runs = join(deployDir, 'runs.log');
      return existsSync(runs) ? readFileSync(runs, 'utf8').split('\n').filter(Boolean).length : 0;
    },
    holdDeployRun: (run) => writeFileSync(join(deployDir, `hold-${run}`), 'hold\n'),
    heldDeployPid(run) {
      const held = join(deployDir, `held-${run}`);
      return existsSync(held) ? Number(readFileSync(held, 'utf8').trim()) || undefined : undefined;
    },
    releaseDeployRun: (run) => rmSync(join(deployDir, `hold-${run}`), { force: true }),
  });
  const services = units.map(viewOf);

  const loop: Loop = {
    nats,
    cluster,
    natsUrl,
    natsEnv,
    cliEnv: { NATS_URL: natsUrl, ...natsEnv },
    nc,
    dir,
    ...services[0]!,
    services,
    configPath,
    logPath,
    serviceEnv,
    publisher: () => (publisher ??= new Publisher(nc, { registry: agentbusRegistry, source: 'e2e-test' })),
    events: (correlationId) => collectIncidentEvents(nc, correlationId),
    async tamperHead(path, mutate) {
      const kv = await new Kvm(jetstream(nc)).open(DEFAULT_STATE_BUCKET);
      const key = path.replace('/', '.');
      const record = JSON.parse((await kv.get(`${key}.head`))!.string()) as { envelope: { number: number }; data: Record<string, unknown> };
      mutate(record.data);
      await kv.put(`${key}.head`, JSON.stringify(record));
      await kv.put(`${key}.v.${record.envelope.number}`, JSON.stringify(record));
      return record.envelope.number;
    },
    async eventsOn(subject) {
      const found: Array<{ type: string; data: Record<string, unknown> }> = [];
      for await (const stored of readStream(nc, { stream: StreamNames.events, fromSeq: 1, subject })) {
        const { type, data } = JSON.parse(new TextDecoder().decode(stored.data)) as { type: string; data: Record<string, unknown> };
        found.push({ type, data });
      }
      return found;
    },
    waitForEvent: (correlationId, type) =>
      waitFor(`${type} of ${correlationId}`, async () => (await collectIncidentEvents(nc, correlationId)).find((e) => e.type === type), 30_000, 50),
    async latestDeployment() {
      let latest: string | undefined;
      for await (const stored of readStream(nc, { stream: StreamNames.events, fromSeq: 1, subject: 'events.deploy.merged' })) {
        latest = (JSON.parse(new TextDecoder().decode(stored.data)) as { data: { deploymentId: string } }).data.deploymentId;
      }
      if (!latest) throw new Error('no deploy.merged on the bus yet');
      return latest;
    },
    async waitUntilConsumed() {
      const jsm = await jetstreamManager(nc);
      const running = new Set<string>([...(options.inProcess ?? serviceNames), ...spawned.map((s) => s.name)]);
      for (const consumer of topology.consumers.filter((c) => running.has(c.service) && !isTimerConsumer(c))) {
        await waitFor(`${consumer.durable} to handle everything in ${consumer.stream}`, async () => {
          const info = await jsm.consumers.info(consumer.stream, consumer.durable);
          return info.num_pending === 0 && info.num_ack_pending === 0;
        }, 30_000, 50);
      }
    },
    deadLetters: () => listDeadLetters(nc),
    async spawnService(name) {
      const service: SpawnedService = await supervisor.start(name);
      spawned.push(service);
      return service;
    },
    logTail(lines = 40) {
      try {
        return readFileSync(logPath, 'utf8').trim().split('\n').slice(-lines).join('\n');
      } catch {
        return '(no log)';
      }
    },
    stop,
  };

  await options.beforeServices?.(loop);
  const running: RunningService[] = [];
  cleanups.push(() => stopServices(running));
  running.push(...(await startServicesInProcess(serviceEnv, { services: options.inProcess ?? serviceNames, logDestination: log, consumers: topology.consumers })));
  return loop;
}

/** A deploy command held by a test outlives an agent killed while waiting for it: end its process group. */
function killHeldDeploys(deployDir: string): void {
  for (const file of readdirSync(deployDir).filter((f) => f.startsWith('held-'))) {
    rmSync(join(deployDir, file.replace('held-', 'hold-')), { force: true });
    const pid = Number(readFileSync(join(deployDir, file), 'utf8').trim());
    if (pid && isRunning(pid)) killGroup(pid);
  }
}

/** SIGKILLs a process group (deploy commands run in their own); quiet when it is gone. */
export function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** The domains of the loop: what the deployer, the health monitor and the rollback agent announce. */
const LOOP_DOMAINS = ['deploy.', 'health.', 'rollback.', 'escalation.'];

/**
 * The loop's story, in stream order: its deploy, health, rollback and escalation events, without
 * task lifecycle events and without what the post-mortem writer and the notifier add afterwards
 * (they follow the same incident on their own time).
 */
export function storyOf(events: readonly IncidentEvent[]): string[] {
  return [...events].sort((a, b) => a.seq - b.seq).map((e) => e.type).filter((type) => LOOP_DOMAINS.some((domain) => type.startsWith(domain)));
}

/** The first event of `type`, narrowed. */
export function eventOf<T extends IncidentEvent['type']>(events: readonly IncidentEvent[], type: T): Extract<IncidentEvent, { type: T }> | undefined {
  return events.find((e): e is Extract<IncidentEvent, { type: T }> => e.type === type);
}

/** GET a path of the demo service: status and JSON body (undefined when nothing answers). */
export async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> } | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  } catch {
    return undefined;
  }
}
