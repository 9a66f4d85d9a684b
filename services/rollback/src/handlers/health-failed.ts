import type { AgentbusRegistry } from '@agentbus/contracts';
import type { Handler } from '@agentbus/bus';
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
    const failure = event.data;
    if (failure.phase !== 'post-deploy') return; // re-probes after a rollback are the rollback's own business
    const { service, decision } = await decideOrEscalate(ctx, failure, deps, async () => {
      const service = findService(deps.fleet, failure.service);
      const repo = openServiceRepo(service);
      const decision: Attribution = await ctx.step('attribute', async () => {
        await repo.fetch();
        return attributeFailure(failure, service, deps.state, repo);
      });
      return { service, decision };
    });
    if (!decision.attributed) return skipRollback(ctx, deps, failure, decision, event.id);
    await rollBack(ctx, deps, service, decision, { id: event.id, detectedAt: Date.parse(event.time) });
  };
}
