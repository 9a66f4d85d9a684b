import type { NatsConnection } from '@nats-io/transport-node';
import { AgentbusError, agentbusRegistry, createEnvelope, StreamNames } from '@agentbus/contracts';
import { Publisher, type PublishResult } from '@agentbus/bus';
import { collectIncidentEvents, followIncident, isFinalOutcome, summarizeIncident, type IncidentEvent, type IncidentSummary } from '@agentbus/incident';
import { PlatformErrorCodes } from './errors.ts';

export interface DeployTask {
  service: string;
  ref: string;
  requestedBy: string;
  /** @default false */
  dryRun?: boolean;
  /** Deploy it even when agentbus reverted the same change before. @default false */
  allowReverted?: boolean;
}

export interface DeployRequest {
  /** The task's id: the deployment's id and its incident's correlationId. */
  taskId: string;
  requestedAt: string;
  published: PublishResult;
}

/**
 * Publishes a deploy task (`deployer.deploy`) as `source` (default `agentbus-cli`). A publish
 * that timed out is retried with the same message id, so the stream holds it once.
 */
export async function requestDeploy(nc: NatsConnection, task: DeployTask, options: { source?: string } = {}): Promise<DeployRequest> {
  const source = options.source ?? 'agentbus-cli';
  const envelope = createEnvelope(agentbusRegistry, 'deployer.deploy', { ...task, dryRun: task.dryRun ?? false, allowReverted: task.allowReverted ?? false }, { source });
  const published = await new Publisher(nc, { registry: agentbusRegistry, source }).publishEnvelope(envelope);
  return { taskId: envelope.id, requestedAt: envelope.time, published };
}

export interface DeployRun {
  taskId: string;
  requestedAt: string;
  summary: IncidentSummary;
  events: IncidentEvent[];
}

/**
 * Publishes a deploy task and follows its incident on the bus until it ends (healthy, rolled
 * back, skipped, failed, or planned for a dry run), calling `onEvent` as each event arrives. The
 * follow survives a NATS restart or failover (followIncident resumes after the last event seen).
 * When the time runs out (or the caller interrupts), the incident's stored events decide: an
 * incident that has ended is reported as ended; otherwise AgentbusError `deploy-timeout` (or
 * `interrupted`) says what happened so far.
 */
export async function deployAndFollow(
  nc: NatsConnection,
  task: DeployTask,
  options: { timeoutMs: number; source?: string; onEvent?: (event: IncidentEvent) => void; signal?: Promise<unknown> },
): Promise<DeployRun> {
  const since = new Date(Date.now() - 1_000);
  const { taskId, requestedAt } = await requestDeploy(nc, task, { source: options.source });
  const { result, events } = await followUntil(nc, taskId, since, (seen) => isFinalOutcome(summarizeIncident(taskId, seen, { requestedAt }).outcome), options);
  const summary = summarizeIncident(taskId, events, { requestedAt });
  assertFollowEnded(result, summary, { timeoutMs: options.timeoutMs, events });
  return { taskId, requestedAt, summary, events };
}

/**
 * Follows the incident `correlationId` on the bus from `since` (followIncident: across NATS
 * restarts and failovers), telling `onEvent` each event, until `done` says so of the events seen,
 * the time runs out or the caller interrupts. Then every stored event of the incident is read
 * back, and those the live follow did not get to are told too. What deploy --wait and release
 * --wait follow with.
 */
export async function followUntil(
  nc: NatsConnection,
  correlationId: string,
  since: Date,
  done: (seen: readonly IncidentEvent[]) => boolean,
  options: { timeoutMs: number; onEvent?: (event: IncidentEvent) => void; signal?: Promise<unknown> },
): Promise<{ result: 'done' | 'timeout' | 'interrupted'; events: IncidentEvent[] }> {
  const seen: IncidentEvent[] = [];
  const stopFollowing = new AbortController();
  const follow = (async () => {
    for await (const event of followIncident(nc, correlationId, { since, signal: stopFollowing.signal })) {
      seen.push(event);
      options.onEvent?.(event);
      if (done(seen)) return;
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), options.timeoutMs)));
  const interrupted = options.signal?.then(() => 'interrupted' as const) ?? new Promise<never>(() => {});
  let result: 'done' | 'timeout' | 'interrupted';
  try {
    // onEvent may throw (the caller's output closed): the follow ends, the timer and the follower with it.
    result = await Promise.race([follow.then(() => 'done' as const), timeout, interrupted]);
  } finally {
    clearTimeout(timer);
    stopFollowing.abort();
    await follow.catch(() => {});
  }
  const events = await collectIncidentEvents(nc, correlationId, { since });
  // Events the live follow did not get to (it was cut off by the time-out or a restart) are still told.
  const told = new Set(seen.map((event) => event.id));
  for (const event of events) if (!told.has(event.id)) options.onEvent?.(event);
  return { result, events };
}

/**
 * How a follow ends: the follower saw the end (`done`), or the time ran out or the caller
 * interrupted; then the incident's stored events decide. One that has ended is reported as
 * ended, whatever stopped the follow; one still going is AgentbusError `deploy-timeout` or
 * `interrupted`, naming where it stands.
 */
export function assertFollowEnded(result: 'done' | 'timeout' | 'interrupted', summary: IncidentSummary, context: { timeoutMs: number; events: readonly IncidentEvent[] }): void {
  if (result === 'done' || isFinalOutcome(summary.outcome)) return;
  throw new AgentbusError(result === 'timeout' ? PlatformErrorCodes.deployTimeout : PlatformErrorCodes.interrupted, `${result === 'timeout' ? `no outcome after ${context.timeoutMs} ms` : 'interrupted'}: the deploy ${summary.incidentId} is ${summary.outcome} (${context.events.length} events so far)`, {
    hint: `the services keep working on it; follow it with \`agentbus replay --stream ${StreamNames.events} --from-seq ${context.events[0]?.seq ?? 1}\``,
    details: { taskId: summary.incidentId, outcome: summary.outcome },
  });
}
