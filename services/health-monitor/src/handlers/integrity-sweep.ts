import { describeError, type AgentbusRegistry } from '@agentbus/contracts';
import type { Handler } from '@agentbus/bus';
import { chainBreakEscalation, type StateStore } from '@agentbus/state';

/**
 * schedule.integrity-sweep: verifies every versioned document (the hash chain, each record, the
 * head) and raises the chain-break escalation of each damaged one (seed 002: a data-integrity
 * question no agent settles alone; one per document and first bad version, so a sweep that finds
 * it again updates the same page). Then the timer is rescheduled. It is one message: one sweep at
 * a time, however many health monitors run.
 */
export function integritySweepHandler(deps: { state: StateStore; intervalMs: number }): Handler<AgentbusRegistry, 'schedule.integrity-sweep'> {
  return async (_timer, ctx) => {
    try {
      const result = await deps.state.verifyAll(() => ctx.working());
      const damaged = result.documents.filter((report) => !report.ok);
      for (const report of damaged) {
        const raised = chainBreakEscalation(report);
        await ctx.publish('escalation.raised', raised.data, { id: raised.id });
      }
      if (damaged.length) ctx.log.error({ damaged: damaged.map((report) => report.path) }, `integrity sweep: ${damaged.length} of ${result.documents.length} document(s) fail verification`);
      else ctx.log.info({ documents: result.documents.length }, `integrity sweep: ${result.documents.length} document(s) verify`);
    } catch (error) {
      // A sweep that could not run is tried again at the next one, not in a loop now.
      ctx.log.error({ err: describeError(error) }, 'integrity sweep could not run');
    }
    if (deps.intervalMs > 0) ctx.redeliverIn(deps.intervalMs);
  };
}
