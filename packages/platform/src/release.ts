import type { NatsConnection } from '@nats-io/transport-node';
import { AgentbusError, agentbusRegistry, createEnvelope, StreamNames, type DataInput, type AgentbusRegistry } from '@agentbus/contracts';
import { Publisher, type PublishResult } from '@agentbus/bus';
import type { IncidentEvent } from '@agentbus/incident';
import { PlatformErrorCodes } from './errors.ts';
import { followUntil } from './follow.ts';

export type ReleaseSpec = DataInput<AgentbusRegistry, 'release.start'>;
export type ReleaseEnd = Extract<IncidentEvent, { type: 'release.completed' | 'release.planned' }>;

export interface ReleaseRequest {
  /** The start task's id: the release's id and every one of its events' correlationId. */
  releaseId: string;
  requestedAt: string;
  published: PublishResult;
}

/** Publishes a release task (`release.start`) as `source` (default `agentbus-cli`); validated first (MessageValidationError names each problem). */
export async function requestRelease(nc: NatsConnection, spec: ReleaseSpec, options: { source?: string } = {}): Promise<ReleaseRequest> {
  const source = options.source ?? 'agentbus-cli';
  const envelope = createEnvelope(agentbusRegistry, 'release.start', spec, { source });
  const published = await new Publisher(nc, { registry: agentbusRegistry, source }).publishEnvelope(envelope);
  return { releaseId: envelope.id, requestedAt: envelope.time, published };
}

export interface ReleaseRun {
  releaseId: string;
  requestedAt: string;
  /** release.completed (or release.planned for a dry run). */
  end: ReleaseEnd;
  events: IncidentEvent[];
}

/**
 * Publishes a release and follows its events on the bus (surviving a NATS restart, like
 * deployAndFollow) until it ends: release.completed, or release.planned for a dry run. When the
 * time runs out or the caller interrupts first, AgentbusError `deploy-timeout` or `interrupted`
 * says where it stands; the release goes on without the follower.
 */
export async function releaseAndFollow(
  nc: NatsConnection,
  spec: ReleaseSpec,
  options: { timeoutMs: number; source?: string; onEvent?: (event: IncidentEvent) => void; signal?: Promise<unknown> },
): Promise<ReleaseRun> {
  const since = new Date(Date.now() - 1_000);
  const { releaseId, requestedAt } = await requestRelease(nc, spec, { source: options.source });
  const isEnd = (event: IncidentEvent): event is ReleaseEnd => event.type === 'release.completed' || event.type === 'release.planned';
  const { result, events } = await followUntil(nc, releaseId, since, (seen) => seen.some(isEnd), options);
  const end = events.find(isEnd);
  if (!end) {
    throw new AgentbusError(result === 'interrupted' ? PlatformErrorCodes.interrupted : PlatformErrorCodes.deployTimeout, `${result === 'interrupted' ? 'interrupted' : `no end after ${options.timeoutMs} ms`}: release ${releaseId} is still running (${events.length} events so far)`, {
      hint: `the release goes on; \`agentbus release status ${releaseId}\` shows where it stands, \`agentbus release abort ${releaseId}\` stops it before its next step; its events: \`agentbus replay --stream ${StreamNames.events} --from-seq ${events[0]?.seq ?? 1}\``,
      details: { releaseId },
    });
  }
  return { releaseId, requestedAt, end, events };
}
