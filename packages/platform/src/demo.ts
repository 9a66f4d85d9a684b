import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, natsAuthFrom } from '@agentbus/bus';
import { createDemoService, DemoBranches } from '@agentbus/demo';
import { GitRepo } from '@agentbus/git';
import { probeOnce } from '@agentbus/health';
import { NatsServer } from '@agentbus/local-nats';
import { timelineOf, type IncidentEvent, type TimelineRow } from '@agentbus/incident';
import { ADMIN_IDENTITY, agentbusTopology, applyTopology, cliConnectionNames, detectReplicas, writeCredentialFiles } from '@agentbus/streams';
import type { RunOptions } from '@agentbus/runtime';
import { deployAndFollow } from './follow.ts';
import { startServicesInProcess, stopServices } from './services.ts';

export interface DemoOptions {
  nc: NatsConnection;
  natsUrl: string;
  /** The services' keys (`agentbus auth init`'s directory) when the server requires them. */
  credentialsDir?: string;
  /** An empty directory the demo may fill. */
  workDir: string;
  /** Seed 000 waits 60 s; the demo defaults to 0. */
  stabilizationMs: number;
  timeoutMs?: number;
  /** Where the services' JSON logs go (default: a file in workDir would be the caller's choice). */
  logDestination?: RunOptions['logDestination'];
  onEvent?: (event: IncidentEvent) => void;
  /** Keep the repositories and the service running state on disk afterwards. */
  keep?: boolean;
  /** Resolves when the user interrupts (Ctrl-C): the demo stops following and cleans up. */
  signal?: Promise<unknown>;
}

export interface DemoResult {
  outcome: string;
  service: string;
  correlationId: string;
  mergeCommit: string | null;
  revertCommit: string | null;
  /** Each from the merge. */
  detectedMs: number | null;
  revertedMs: number | null;
  healthyMs: number | null;
  /** Time spent in agentbus itself: total minus configured waits, probe time-outs and deploy commands. */
  platformMs: number | null;
  totalMs: number | null;
  excluded: Record<string, number>;
  /** The remote branch after the incident, and whether it is a revert of exactly the merge. */
  originHead: string | null;
  originHeadRevertsMerge: boolean;
  /** /health answered as expected after the incident. */
  serviceHealthy: boolean;
  timeline: TimelineRow[];
  workDir: string;
}

/**
 * Seed 000 end to end, with real parts: a bare origin and a working clone of a small HTTP
 * service started by a deploy script; a feature branch that breaks /health is deployed; the
 * services detect it, revert the merge, push, redeploy and verify. Returns the facts, read from
 * the bus's own events and checked against git and the service.
 */
export async function runSeed000Demo(options: DemoOptions): Promise<DemoResult> {
  const demo = await createDemoService({ dir: options.workDir });
  let services: Awaited<ReturnType<typeof startServicesInProcess>> = [];
  try {
    await demo.deploy(); // the healthy version runs before anything happens
    const configPath = demo.writeFleetConfig(join(options.workDir, 'agentbus.config.json'), {
      stabilizationMs: options.stabilizationMs,
      probes: 3,
      probeIntervalMs: 100,
      consecutiveFailures: 2,
      healthyWithinMs: 30_000,
    });
    await applyTopology(options.nc, agentbusTopology({ replicas: detectReplicas(options.nc) }));
    services = await startServicesInProcess(
      { NATS_URL: options.natsUrl, NATS_CREDENTIALS_DIR: options.credentialsDir, AGENTBUS_CONFIG: configPath, METRICS_PORT: '0', LOG_LEVEL: 'info', HEALTH_WATCH_INTERVAL_MS: '0' },
      { logDestination: options.logDestination },
    );
    const run = await deployAndFollow(
      options.nc,
      { service: demo.name, ref: DemoBranches.broken, requestedBy: 'coding-agent (agentbus demo)' },
      { timeoutMs: options.timeoutMs ?? 120_000 + options.stabilizationMs, source: 'agentbus-demo', onEvent: options.onEvent, signal: options.signal },
    );
    const repo = new GitRepo({ path: demo.clonePath, branch: demo.branch });
    const originHead = (await repo.remoteBranchSha()) ?? null;
    const originHeadRevertsMerge = Boolean(originHead && run.summary.mergeCommit && (await repo.revertedCommitOf(originHead)) === run.summary.mergeCommit);
    const probe = await probeOnce({ name: 'health', url: demo.healthUrl, expectJson: { status: 'ok' } });
    const s = run.summary;
    return {
      outcome: s.outcome,
      service: demo.name,
      correlationId: run.taskId,
      mergeCommit: s.mergeCommit ?? null,
      revertCommit: s.revertCommit ?? null,
      detectedMs: s.durations.detectedMs ?? null,
      revertedMs: s.durations.revertedMs ?? null,
      healthyMs: s.durations.healthyMs ?? null,
      platformMs: s.durations.platformMs ?? null,
      totalMs: s.durations.totalMs ?? null,
      excluded: s.excluded,
      originHead,
      originHeadRevertsMerge,
      serviceHealthy: probe.ok,
      timeline: timelineOf(run.events),
      workDir: options.workDir,
    };
  } finally {
    await stopServices(services);
    if (options.keep) await demo.stop();
    else await demo.cleanup();
  }
}

export interface OwnNatsDemoOptions extends Omit<DemoOptions, 'nc' | 'natsUrl'> {
  /** The nats-server binary; searched for when omitted. */
  natsServerBinary?: string;
}

/**
 * Seed 000 on a nats-server of its own, its store and log in workDir: the demo never touches
 * another NATS (NATS_URL, or the server of a running `agentbus up`) nor its services. Its server
 * runs with authorization on, as `agentbus up`'s does: each service under its own identity (keys
 * in workDir/auth), the demo itself as the admin. The connection and the server are stopped when
 * the demo ends, however it ends.
 */
export async function runSeed000DemoOnOwnNats(options: OwnNatsDemoOptions): Promise<DemoResult> {
  const { natsServerBinary, ...demoOptions } = options;
  const credentials = writeCredentialFiles(join(options.workDir, 'auth'));
  const server = await NatsServer.start({
    storeDir: join(options.workDir, 'nats'),
    logFile: join(options.workDir, 'nats-server.log'),
    binary: natsServerBinary,
    serverName: 'agentbus-demo',
    includes: [credentials.authorizationFile],
  });
  try {
    const nc = await connectNats({ servers: server.url, name: cliConnectionNames.admin, ...natsAuthFrom({ NATS_CREDENTIALS_DIR: credentials.dir }, ADMIN_IDENTITY) });
    try {
      return await runSeed000Demo({ ...demoOptions, nc, natsUrl: server.url, credentialsDir: credentials.dir });
    } finally {
      await nc.close();
    }
  } finally {
    await server.stop();
  }
}
