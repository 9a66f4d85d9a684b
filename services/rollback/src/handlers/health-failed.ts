import { followupLabel, type AgentbusRegistry, type EnvelopeOf } from '@agentbus/contracts';
import type { Handler, HandlerContext } from '@agentbus/bus';
import { findService, openServiceRepo } from '@agentbus/fleet';
import { attributeFailure, type Attribution } from '../attribution.ts';
import { decideOrEscalate, rollBack, skipRollback, type RollbackDeps } from '../rollback.ts';

/**
 * health.failed after a deploy: roll back only a failure attributed to that deployment (see
 * attribution.ts); otherwise announce rollback.skipped and escalate. The decision is a ledger
 * step, so a redelivered message resumes the same rollback instead of deciding again.
 */
export function healthFailedHandler(deps: RollbackDeps): Handler<AgentbusRegistry, 'health.failed'> {
  return async (event, ctx) => {
    if (event.data.phase !== 'post-deploy') return; // re-probes after a rollback are the rollback's own business
    await actOnFailure(ctx, deps, event);
  };
}

/**
 * followup.failed, hours after a deploy judged healthy: the same decision and the same rollback,
 * the reason naming the follow-up that found it ("found by the +4 h follow-up"). A deployment
 * that is no longer the latest of its service is not rolled back (attribution says so).
 */
export function followupFailedHandler(deps: RollbackDeps): Handler<AgentbusRegistry, 'followup.failed'> {
  return (event, ctx) => actOnFailure(ctx, deps, event, `the ${followupLabel(event.data.offsetMs)} follow-up`);
}

async function actOnFailure(
  ctx: HandlerContext<AgentbusRegistry>,
  deps: RollbackDeps,
  event: EnvelopeOf<AgentbusRegistry, 'health.failed'> | EnvelopeOf<AgentbusRegistry, 'followup.failed'>,
  foundBy?: string,
): Promise<void> {
  const failure = event.data;
  const { service, decision } = await decideOrEscalate(ctx, failure, deps, async () => {
    const service = findService(deps.fleet, failure.service);
    const repo = openServiceRepo(service);
    const decision: Attribution = await ctx.step('attribute', async () => {
      await repo.fetch();
      return attributeFailure(failure, service, deps.state, repo, foundBy);
    });
    return { service, decision };
  });
  if (!decision.attributed) return skipRollback(ctx, deps, failure, decision, event.id);
  await rollBack(ctx, deps, service, decision, { id: event.id, detectedAt: Date.parse(event.time) });
}
