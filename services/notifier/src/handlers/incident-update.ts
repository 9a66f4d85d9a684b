import type { AgentbusRegistry, EnvelopeOf } from '@agentbus/contracts';
import type { HandlerContext } from '@agentbus/bus';
import { announceInChat, type NotifierDeps } from '../announce.ts';

/** Updates told in chat and nothing else. */
export type IncidentUpdate = EnvelopeOf<AgentbusRegistry, 'deploy.failed'> | EnvelopeOf<AgentbusRegistry, 'rollback.failed'> | EnvelopeOf<AgentbusRegistry, 'rollback.skipped'> | EnvelopeOf<AgentbusRegistry, 'release.completed'>;

/** deploy.failed, rollback.failed, rollback.skipped, release.completed: one chat message each (their escalations page). */
export function incidentUpdateHandler(deps: NotifierDeps): (event: IncidentUpdate, ctx: HandlerContext<AgentbusRegistry>) => Promise<void> {
  return (event, ctx) => announceInChat(event, ctx, deps);
}
