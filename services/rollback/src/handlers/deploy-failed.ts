import type { AgentbusRegistry } from '@agentbus/contracts';
import type { Handler } from '@agentbus/bus';
import { findService, openServiceRepo } from '@agentbus/fleet';
import { attributeDeployFailure, type Attribution } from '../attribution.ts';
import { decideOrEscalate, rollBack, skipRollback, type RollbackDeps } from '../rollback.ts';

/**
 * deploy.failed after the merge reached the remote (the deploy command failed): the service may
 * be down, and the branch carries a change that never deployed. Roll it back like a failed health
 * check (the deployer handed its lease over); failures before the push left nothing to undo.
 */
export function deployFailedHandler(deps: RollbackDeps): Handler<AgentbusRegistry, 'deploy.failed'> {
  return async (event, ctx) => {
    const failure = event.data;
    if (!failure.pushed || failure.stage !== 'deploy-command') return;
    const { service, decision } = await decideOrEscalate(ctx, failure, deps, async () => {
      const service = findService(deps.fleet, failure.service);
      const repo = openServiceRepo(service);
      const decision: Attribution | null = await ctx.step('attribute', async () => {
        await repo.fetch();
        return attributeDeployFailure(failure, event.correlationId, event.time, repo);
      });
      return { service, decision };
    });
    if (!decision) return;
    if (!decision.attributed) return skipRollback(ctx, deps, failure, decision, event.id);
    await rollBack(ctx, deps, service, decision, { id: event.id, detectedAt: Date.parse(event.time) });
  };
}
