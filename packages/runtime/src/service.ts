import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import type { NatsConnection } from '@nats-io/transport-node';
import { agentbusRegistry, describeError, type AgentbusRegistry, type EnvelopeOf, type MessageTypeOf } from '@agentbus/contracts';
import { connectNats, describePermissionDenied, Heartbeats, identityOf, instanceName, isPermissionViolation, missingPermissions, natsAuthFrom, ConsumerRunner, IdempotencyLedger, Publisher, type DeliveryInfo, type HandlerMap, type PermissionNeed } from '@agentbus/bus';
import { agentbusConsumers, permissionNeeds, serviceIdentities, unhandledTypePolicy, type ConsumerDefinition } from '@agentbus/streams';
import { createLogger, createMetrics, startProbeServer, type Logger, type ProbeServer, type ServiceMetrics } from '@agentbus/telemetry';
import { loadServiceConfig, runtimeEnvShape, type RuntimeEnv } from './config.ts';
import type { OpenedResources, ResourceContext, ServiceResources } from './resource.ts';

/** How often a service that lacks a permission looks again (it logs every 20th look). */
const PERMISSION_RECHECK_MS = 3_000;

/** What a service's start() gets: everything generic is already done. */
export interface ServiceContext<Settings, Resources extends ServiceResources = Record<never, never>> {
  name: string;
  settings: Settings;
  runtime: RuntimeEnv;
  /**
   * The environment the service was started with (RunOptions.env, else process.env), read-only:
   * for values the settings cannot name in advance, such as `{ "env": "NAME" }` secrets in the
   * service registry (resolveSecret). Never log it.
   */
  env: Readonly<Record<string, string | undefined>>;
  nc: NatsConnection;
  /** Publishes as this service (envelope source = its name). */
  publisher: Publisher<AgentbusRegistry>;
  log: Logger;
  metrics: ServiceMetrics;
  /** The declared resources, opened (only those the definition declares). */
  resources: OpenedResources<Resources>;
  /** Runs when the service stops, after its consumers have drained (reverse order). */
  onStop(cleanup: () => Promise<void> | void): void;
}

export interface ConsumerHandlers {
  handlers: HandlerMap<AgentbusRegistry>;
  /** Handlers running at once on this consumer (default 1). */
  concurrency?: number;
}

export interface ServiceDefinition<Shape extends z.ZodRawShape, Resources extends ServiceResources = Record<never, never>> {
  name: string;
  description: string;
  /** The service's own environment variables (zod shape); validated with the runtime's and its resources' together. */
  settings: Shape;
  /** What it uses (see ServiceResource): each one's variables are validated at start, and it is opened before start(). */
  resources?: Resources;
  /** Builds the handlers for each of its durable consumers (declared in streams/). */
  start(ctx: ServiceContext<z.infer<z.ZodObject<Shape>>, Resources>): Promise<Record<string, ConsumerHandlers>> | Record<string, ConsumerHandlers>;
}

export function defineService<Shape extends z.ZodRawShape, Resources extends ServiceResources = Record<never, never>>(definition: ServiceDefinition<Shape, Resources>): ServiceDefinition<Shape, Resources> {
  return definition;
}

export interface RunningService {
  name: string;
  metricsUrl: string;
  ready(): boolean;
  /** Stops pulling, lets running handlers finish (SHUTDOWN_GRACE_MS), drains the connection. */
  stop(): Promise<void>;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  /** Where logs go (default stdout). */
  logDestination?: Parameters<typeof createLogger>[0]['destination'];
  /** Consumer definitions to bind to (default: the agentbus topology). */
  consumers?: ConsumerDefinition[];
}

/**
 * Runs a service: validates its configuration (the runtime's variables, its settings and its
 * resources': all problems at once), connects (waiting for the server if it is not up yet), opens
 * its resources, binds its consumers, and serves /metrics, /healthz and /readyz.
 * For every task it handles it sends task.started, then task.completed or task.failed; every
 * delivery is counted by outcome and timed.
 */
export async function runService<Shape extends z.ZodRawShape, Resources extends ServiceResources>(definition: ServiceDefinition<Shape, Resources>, options: RunOptions = {}): Promise<RunningService> {
  const env: Readonly<Record<string, string | undefined>> = Object.freeze({ ...(options.env ?? process.env) });
  const declared = definition.resources ?? ({} as Resources);
  const { runtime, settings, resources: resourceEnvs } = loadServiceConfig(definition.name, definition.settings, env, declared);
  const log = createLogger({ service: definition.name, level: runtime.LOG_LEVEL, destination: options.logDestination });
  const metrics = createMetrics(definition.name);
  const cleanups: Array<() => Promise<void> | void> = [];
  const runners: ConsumerRunner<AgentbusRegistry>[] = [];
  let probe: ProbeServer | undefined;
  let nc: NatsConnection | undefined;
  let missing: PermissionNeed[] = [];
  let consumersStarted = false;
  try {
    log.info({ nats: runtime.NATS_URL }, `${definition.name} starting`);
    const auth = natsAuthFrom(runtime, definition.name);
    nc = await connectNats({ servers: runtime.NATS_URL, name: definition.name, waitForServer: true, ...auth });
    const connection = nc;
    void (async () => {
      for await (const status of connection.status()) {
        if (status.type === 'disconnect' || status.type === 'reconnect') log.warn({ status: status.type }, `NATS ${status.type}`);
        // A refusal of something sent without a reply (an ack, a publish) arrives only here.
        else if (status.type === 'error' && isPermissionViolation(status.error)) log.error({ identity: identityOf(connection), subject: status.error.subject }, describeError(describePermissionDenied(status.error, identityOf(connection))));
      }
    })();
    const consumers = options.consumers ?? agentbusConsumers;
    probe = await startProbeServer({
      host: runtime.METRICS_HOST,
      port: runtime.METRICS_PORT,
      registry: metrics.registry,
      healthy: () => !connection.isClosed(),
      ready: () => consumersStarted && !connection.isClosed() && runners.every((r) => r.ready),
      detail: () => ({
        consumers: Object.fromEntries(runners.map((r) => [r.name, r.ready ? 'bound' : 'waiting'])),
        ...(missing.length ? { missingPermissions: missing.map((need) => `${need.kind} ${need.subject} (${need.why})`) } : {}),
      }),
    });
    // With credentials, the identity's permissions are checked before anything else: a service
    // that lacks one stays not ready, says which, and looks again (a fixed server config is picked up).
    if ((auth.seedFile || auth.user || auth.token) && serviceIdentities.some((identity) => identity.service === definition.name)) {
      const needs = permissionNeeds(definition.name, consumers);
      for (let looks = 0; ; looks++) {
        missing = await missingPermissions(connection, needs);
        if (missing.length === 0) break;
        if (looks % 20 === 0) {
          log.error(
            { identity: identityOf(connection), missing: missing.map((need) => `${need.kind} ${need.subject}`) },
            `${definition.name} is not ready: NATS refuses identity ${identityOf(connection)} what it needs: ${missing.map((need) => `${need.kind} "${need.subject}" (${need.why})`).join('; ')}. Regenerate the server's authorization from this version's topology (\`agentbus auth init\`) and reload the server`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, PERMISSION_RECHECK_MS));
      }
    }
    const publisher = new Publisher(connection, { registry: agentbusRegistry, source: definition.name });
    const resourceCtx: ResourceContext = { service: definition.name, nc: connection, log, onStop: (cleanup) => cleanups.push(cleanup) };
    const opened: Record<string, unknown> = {};
    for (const [name, resource] of Object.entries(declared)) opened[name] = await resource.open(resourceEnvs[name] as never, resourceCtx); // its own env schema's output
    const ctx: ServiceContext<z.infer<z.ZodObject<Shape>>, Resources> = {
      name: definition.name,
      settings,
      runtime,
      env,
      nc: connection,
      publisher,
      log,
      metrics,
      resources: opened as OpenedResources<Resources>,
      onStop: (cleanup) => cleanups.push(cleanup),
    };
    const byConsumer = await definition.start(ctx);
    const ledger = await IdempotencyLedger.open(connection);
    for (const [consumer, parts] of Object.entries(byConsumer)) {
      const declaration = consumers.find((c) => c.durable === consumer);
      if (!declaration) throw new Error(`${definition.name} handles consumer "${consumer}", which streams/ does not declare`);
      runners.push(
        new ConsumerRunner({
          nc: connection,
          registry: agentbusRegistry,
          publisher,
          stream: declaration.stream,
          consumer,
          handlers: parts.handlers,
          unhandledTypes: unhandledTypePolicy(declaration),
          concurrency: parts.concurrency,
          retryDelaysMs: declaration.retryDelaysMs,
          ledger,
          log,
          shutdownGraceMs: runtime.SHUTDOWN_GRACE_MS,
          hooks: lifecycleHooks(definition.name, publisher, metrics, consumer),
        }),
      );
    }
    await Promise.all(runners.map((runner) => runner.start()));
    consumersStarted = true;
    if (runtime.HEARTBEAT_INTERVAL_MS > 0) cleanups.unshift(await startHeartbeats(connection, definition.name, runners, runtime.HEARTBEAT_INTERVAL_MS, log));
    const readyTimer = setInterval(() => metrics.ready.set(runners.every((r) => r.ready) && !connection.isClosed() ? 1 : 0), 1_000);
    readyTimer.unref();
    cleanups.unshift(() => clearInterval(readyTimer));
    metrics.ready.set(1);
    log.info({ metrics: `${probe.url}/metrics`, consumers: runners.map((r) => r.name) }, `${definition.name} ready; metrics at ${probe.url}/metrics`);
  } catch (error) {
    await Promise.allSettled(runners.map((r) => r.stop()));
    // What was opened before the failure (a state store, a resource's connection) is closed too.
    for (const cleanup of cleanups.reverse()) await Promise.resolve().then(cleanup).catch((cleanupError: unknown) => log.warn({ err: describeError(cleanupError) }, 'clean-up failed'));
    await probe?.close();
    await nc?.close();
    throw error;
  }
  const started = probe;
  const connection = nc;
  let stopping: Promise<void> | undefined;
  return {
    name: definition.name,
    metricsUrl: `${started.url}/metrics`,
    ready: () => !connection.isClosed() && runners.every((r) => r.ready),
    stop: () =>
      (stopping ??= (async () => {
        log.info({}, `${definition.name} stopping: draining consumers`);
        await Promise.allSettled(runners.map((r) => r.stop()));
        for (const cleanup of cleanups.reverse()) {
          try {
            await cleanup();
          } catch (error) {
            log.warn({ err: describeError(error) }, 'clean-up failed');
          }
        }
        await connection.drain().catch(() => connection.close());
        await started.close();
        log.info({}, `${definition.name} stopped`);
      })()),
  };
}

function lifecycleHooks(agent: string, publisher: Publisher<AgentbusRegistry>, metrics: ServiceMetrics, consumer: string) {
  const isTask = (type: string) => agentbusRegistry[type as MessageTypeOf<AgentbusRegistry>]?.kind === 'task';
  const ref = (envelope: EnvelopeOf<AgentbusRegistry, MessageTypeOf<AgentbusRegistry>>, delivery: DeliveryInfo) => ({
    agent,
    taskType: envelope.type,
    taskId: envelope.id,
    attempt: delivery.deliveryCount,
  });
  return {
    onStart: async (envelope: EnvelopeOf<AgentbusRegistry, MessageTypeOf<AgentbusRegistry>>, delivery: DeliveryInfo) => {
      if (isTask(envelope.type)) await publisher.publish('task.started', ref(envelope, delivery), { causedBy: envelope, id: `${envelope.id}.task-started.${delivery.deliveryCount}` });
    },
    onFinish: async (
      envelope: EnvelopeOf<AgentbusRegistry, MessageTypeOf<AgentbusRegistry>>,
      delivery: DeliveryInfo,
      result: { ok: true; ms: number } | { ok: false; ms: number; error: unknown; willRetry: boolean },
    ) => {
      metrics.handlerSeconds.observe({ consumer, type: envelope.type, result: result.ok ? 'ok' : 'error' }, result.ms / 1000);
      if (!isTask(envelope.type)) return;
      if (result.ok) {
        await publisher.publish('task.completed', { ...ref(envelope, delivery), durationMs: result.ms }, { causedBy: envelope, id: `${envelope.id}.task-completed` });
      } else {
        const error = result.error as { code?: unknown; message?: unknown };
        await publisher.publish(
          'task.failed',
          { ...ref(envelope, delivery), durationMs: result.ms, error: { code: typeof error?.code === 'string' ? error.code : 'error', message: describeError(result.error) }, willRetry: result.willRetry },
          { causedBy: envelope, id: `${envelope.id}.task-failed.${delivery.deliveryCount}` },
        );
      }
    },
    onOutcome: (outcome: string, type: string | undefined) => metrics.messages.inc({ consumer, type: type ?? 'invalid', outcome }),
    onPullRestart: (reason: string) => metrics.pullRestarts.inc({ consumer, reason }),
  };
}

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * Writes this process's heartbeat every `intervalMs` (its consumers, whether it is ready) for the
 * bus watchdog; the returned clean-up stops it and removes the heartbeat, so a service stopped on
 * purpose is not reported missing. A heartbeat that cannot be written is logged, never fatal.
 */
async function startHeartbeats(nc: NatsConnection, service: string, runners: readonly ConsumerRunner<AgentbusRegistry>[], intervalMs: number, log: Logger): Promise<() => Promise<void>> {
  let heartbeats: Heartbeats;
  try {
    heartbeats = await Heartbeats.open(nc);
  } catch (error) {
    log.warn({ err: describeError(error) }, 'no heartbeats: the watchdog will not see this service');
    return async () => {};
  }
  const instance = instanceName();
  let warned = false;
  const beat = () =>
    heartbeats
      .beat({ service, instance, version: VERSION, consumers: runners.map((r) => r.name), ready: !nc.isClosed() && runners.every((r) => r.ready), at: new Date().toISOString() })
      .then(() => (warned = false))
      .catch((error: unknown) => {
        if (!warned) log.warn({ err: describeError(error) }, 'could not write the heartbeat');
        warned = true;
      });
  await beat();
  const timer = setInterval(() => void beat(), intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await heartbeats.remove(service, instance).catch(() => {});
  };
}

/** How a service process ends when it cannot start (a supervisor tells them apart). */
export const ServiceExitCodes = {
  cannotStart: 1,
  /** METRICS_PORT was taken between choosing it and listening on it: start it again on another port (EX_TEMPFAIL). */
  portTaken: 75,
} as const;

/**
 * The whole life of a service process: run it, log where its metrics are, stop cleanly on
 * SIGTERM/SIGINT (exit 0), and exit 1 with a clear message when it cannot start. Under a
 * supervisor (AGENTBUS_SUPERVISOR_PID), it also stops by itself when the supervisor is gone,
 * even while it is still starting (waiting for a NATS server that went away with it).
 */
export async function runServiceMain<Shape extends z.ZodRawShape, Resources extends ServiceResources>(definition: ServiceDefinition<Shape, Resources>): Promise<void> {
  let service: RunningService | undefined;
  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${definition.name}: ${why}: ${service ? 'draining' : 'stopping before it was ready'}\n`);
    await service?.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  const supervisor = runtimeEnvShape.AGENTBUS_SUPERVISOR_PID.safeParse(process.env.AGENTBUS_SUPERVISOR_PID || undefined).data;
  if (supervisor !== undefined) {
    // Reparented (to init or a subreaper): the supervisor died without stopping this process.
    setInterval(() => {
      if (process.ppid !== supervisor) void stop(`the supervisor (pid ${supervisor}) is gone`);
    }, 500).unref();
  }
  try {
    service = await runService(definition);
  } catch (error) {
    const e = error as { message?: string; hint?: string; code?: unknown };
    process.stderr.write(`${definition.name}: cannot start: ${describeError(error)}\n${e.hint ? `hint: ${e.hint}\n` : ''}`);
    process.exit(e.code === 'EADDRINUSE' ? ServiceExitCodes.portTaken : ServiceExitCodes.cannotStart);
  }
}
