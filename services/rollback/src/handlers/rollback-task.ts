import type { AgentbusRegistry } from '@agentbus/contracts';
import type { Handler } from '@agentbus/bus';
import { findService, openServiceRepo } from '@agentbus/fleet';
import { attributeRequest, type Attribution } from '../attribution.ts';
import { decideOrEscalate, rollBack, skipRollback, type RollbackDeps } from '../rollback.ts';

/**
 * rollback.rollback: roll back a named deployment though no check of its own failed (the release
 * agent asks for it: a release rolled back as a whole, a final check that named the service, an
 * abort with rollback). The same rollback as after a failed check, under the deployment's lease
 * owner; refused (rollback.skipped) when the deployment is no longer the latest of its service.
 */
export function rollbackTaskHandler(deps: RollbackDeps): Handler<AgentbusRegistry, 'rollback.rollback'> {
  return async (task, ctx) => {
    const request = task.data;
    const { service, decision } = await decideOrEscalate(ctx, request, deps, async () => {
      const service = findService(deps.fleet, request.service);
      const repo = openServiceRepo(service);
      const decision: Attribution = await ctx.step('attribute', async () => {
        await repo.fetch();
        return attributeRequest(request, service, deps.state, repo);
      });
      return { service, decision };
    });
    if (!decision.attributed) return skipRollback(ctx, deps, request, decision, task.id);
    await rollBack(ctx, deps, service, decision, { id: task.id, detectedAt: Date.parse(task.time) });
  };
}
