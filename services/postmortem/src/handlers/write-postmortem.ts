import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { cutToLength, describeError, postmortemPath, type AgentbusRegistry, type Envelope } from '@agentbus/contracts';
import type { HandlerContext } from '@agentbus/bus';
import { type FleetService } from '@agentbus/fleet';
import { z } from 'zod';
import { buildPostmortem, collectIncidentEvents, postmortemSchema, renderPostmortemMarkdown, summarizeIncident, type ChangeFacts, type IncidentEvent, type Postmortem } from '@agentbus/incident';
import { ticketRequest } from '@agentbus/notify';
import { canonicalJson, isStateIntegrityError, isStateNotFound, refusedReadEscalation, refusedVersionOf, StateVersionConflictError, type RefusedVersion, type StateStore } from '@agentbus/state';
import { changeFacts, collectDeadLetters, collectTasks } from '../records.ts';

/** The stored document: the post-mortem, and when its ticket was requested (once per incident). */
export const storedPostmortemSchema = postmortemSchema.extend({ ticketRequestedAt: z.string().nullable() });
export type StoredPostmortem = z.infer<typeof storedPostmortemSchema>;

export interface PostmortemDeps {
  nc: NatsConnection;
  state: StateStore;
  services: readonly FleetService[];
  /** Absolute folder of the Markdown files. */
  dir: string;
  /** Labels of bug tickets; undefined: no ticket target is configured. */
  ticketLabels: string[] | undefined;
  lookbackMs: number;
}

/** A post-mortem writer that loses the race for the next version this many times in a row gives up (retried by the bus). */
const MAX_WRITE_ATTEMPTS = 5;

/**
 * Writes (or updates) the post-mortem of the incident the event belongs to, from the bus itself:
 * every event of the incident (by correlationId), its tasks and its dead letters, plus git's
 * account of the change. One document per incident, postmortemPath(incident): a run that finds
 * nothing new writes nothing; new events make a new version. The Markdown file is rewritten to
 * match, the bug ticket is requested once per incident, and postmortem.written is announced.
 *
 * Any number of post-mortem writers may run: a new version is written only on top of the version
 * this run read before it read the events (ifVersion). A writer that loses that race reads the
 * events again and builds again, so the newest version always tells every event any writer saw.
 * The ticket is requested before the version that records it is written (its delivery id is the
 * incident's, so a repeat is stored once): a writer that stops in between requests it again on
 * redelivery instead of never.
 */
export async function writePostmortem(deps: PostmortemDeps, trigger: Envelope, ctx: HandlerContext<AgentbusRegistry>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await writeOnce(deps, trigger, ctx);
      return;
    } catch (error) {
      if (!(error instanceof StateVersionConflictError) || attempt >= MAX_WRITE_ATTEMPTS) throw error;
      ctx.log.debug({ attempt }, 'another post-mortem writer wrote a version first: building again');
    }
  }
}

async function writeOnce(deps: PostmortemDeps, trigger: Envelope, ctx: HandlerContext<AgentbusRegistry>): Promise<void> {
  const incidentId = trigger.correlationId;
  const path = postmortemPath(incidentId);
  let current: StoredPostmortem | undefined;
  let currentVersion = 0;
  let refusedHead: RefusedVersion | undefined;
  try {
    const head = await deps.state.getVerified(path);
    const parsed = storedPostmortemSchema.safeParse(head.data);
    // Anyone may write a document there (agentbus state put): what is not a post-mortem is written over, as one that changed.
    if (parsed.success) current = parsed.data;
    else ctx.log.warn({ path, problems: parsed.error.issues.length }, `${path} is not a post-mortem document: writing the post-mortem over it`);
    currentVersion = head.envelope.number;
  } catch (error) {
    if (isStateIntegrityError(error)) {
      // Changed past the state store: nothing of it is kept or trusted (not "ticket already
      // requested", not "unchanged"); the post-mortem is written again from the bus, on top of it.
      const refused = refusedVersionOf(error);
      currentVersion = refused.number;
      ctx.log.error({ path, version: refused.number, reason: refused.reason }, `${refused.message}: writing the post-mortem again from the bus's events, ignoring that version`);
      refusedHead = refused;
    } else if (!isStateNotFound(error)) throw error;
  }

  const since = new Date(Date.parse(trigger.time) - deps.lookbackMs);
  const events = await collectIncidentEvents(deps.nc, incidentId, { since });
  // The trigger may not be readable yet from a lagging replica: it is part of the story all the same.
  if (!events.some((e) => e.id === trigger.id)) events.push({ ...(trigger as IncidentEvent), seq: Number.MAX_SAFE_INTEGER });
  const [tasks, deadLetters] = await Promise.all([collectTasks(deps.nc, incidentId, since), collectDeadLetters(deps.nc, incidentId, since)]);
  const facts = summarizeIncident(incidentId, events);
  if (refusedHead) {
    const raised = refusedReadEscalation(refusedHead, {
      service: facts.service ?? 'agentbus',
      summary: `the post-mortem ${path} fails verification (version ${refusedHead.number}: ${refusedHead.reason}); it is written again from the bus's events`,
      details: { incidentId },
    });
    await ctx.publish('escalation.raised', raised.data, { id: raised.id });
  }
  let change: ChangeFacts | null = null;
  const service = deps.services.find((s) => s.name === facts.service);
  if (service && facts.mergeCommit) {
    try {
      change = await changeFacts(service, facts.mergeCommit);
    } catch (error) {
      ctx.log.warn({ err: describeError(error) }, `could not read ${facts.mergeCommit} from ${service.git.path}; the post-mortem goes without the change's details`);
    }
  }
  const postmortem = buildPostmortem({ incidentId, events, tasks, deadLetters, change });

  if (deps.ticketLabels && !current?.ticketRequestedAt) await requestTicket(ctx, postmortem, path, deps.ticketLabels);
  const ticketRequestedAt = current?.ticketRequestedAt ?? (deps.ticketLabels ? new Date().toISOString() : null);
  const stored: StoredPostmortem = { ...postmortem, ticketRequestedAt };
  const unchanged = current !== undefined && canonicalJson({ ...current, ticketRequestedAt: null }) === canonicalJson({ ...postmortem, ticketRequestedAt: null });
  let version = currentVersion;
  if (!unchanged) {
    const digest = createHash('sha256').update(canonicalJson(postmortem)).digest('hex').slice(0, 16);
    const result = await deps.state.put(path, stored, {
      reason: `${current ? 'updated' : 'written'} from ${events.length} events (after ${trigger.type})`,
      agent: 'postmortem',
      taskId: trigger.id,
      writeId: `${path.replace('/', '.')}.${digest}`,
      ifVersion: currentVersion,
    });
    version = result.version.envelope.number;
    ctx.log.info({ path, version, events: events.length }, `post-mortem ${current ? 'updated' : 'written'}: ${postmortem.title}`);
  }
  const file = join(deps.dir, `${path.split('/')[1]}.md`);
  mkdirSync(deps.dir, { recursive: true });
  writeFileSync(`${file}.tmp`, renderPostmortemMarkdown(postmortem));
  renameSync(`${file}.tmp`, file);

  if (!unchanged) {
    await ctx.publish(
      'postmortem.written',
      { incidentId, ...(postmortem.service ? { service: postmortem.service } : {}), outcome: postmortem.outcome, path, version, file, events: events.length },
      { id: `postmortem.${path.split('/')[1]}.v${version}` },
    );
  }
}

/** The incident's bug ticket, as a delivery for the notifier (one per incident: its id is the incident's). */
async function requestTicket(ctx: HandlerContext<AgentbusRegistry>, postmortem: Postmortem, path: string, labels: string[]): Promise<void> {
  await ctx.publish(
    'notifier.deliver',
    {
      channel: 'ticket',
      target: 'ticket',
      incidentId: postmortem.incidentId,
      summary: cutToLength(`bug ticket: ${postmortem.title}`, 1_024),
      body: ticketRequest(
        {
          incidentId: postmortem.incidentId,
          service: postmortem.service ?? 'agentbus',
          title: postmortem.title,
          deploymentSha: postmortem.ticket.deploymentSha,
          rolledBackTo: postmortem.ticket.rolledBackTo,
          failureReason: postmortem.ticket.failureReason,
          failingEndpoint: postmortem.ticket.failingEndpoint,
          timeToDetectMs: postmortem.ticket.timeToDetectMs,
          timeToRollBackMs: postmortem.ticket.timeToRollBackMs,
          postmortemPath: path,
          summary: postmortem.summary,
        },
        labels,
      ) as unknown as Record<string, unknown>,
    },
    { id: `ticket.${path.split('/')[1]}` },
  );
}
