import { AgentbusError, releaseRunPath, releaseRunSchema, type AgentbusRegistry } from '@agentbus/contracts';
import type { Handler } from '@agentbus/bus';
import { isStateIntegrityError, isStateNotFound, refusedReadEscalation, refusedVersionOf, type StateStore } from '@agentbus/state';
import { ReleaseErrorCodes } from '../errors.ts';

/**
 * release.abort: tells a running release to stop before its next step (release.abort-requested,
 * with the release's correlation id: the release follows its own events and sees it). A step
 * being deployed is finished and judged first; with `rollback`, every promoted step is then
 * rolled back, newest first. A release that has ended already is left as it is.
 */
export function releaseAbortHandler(deps: { state: StateStore }): Handler<AgentbusRegistry, 'release.abort'> {
  return async (task, ctx) => {
    const { releaseId, rollback, requestedBy } = task.data;
    let status: string;
    try {
      status = releaseRunSchema.parse((await deps.state.getVerified(releaseRunPath(releaseId))).data).status;
    } catch (error) {
      if (isStateIntegrityError(error)) {
        // "It has ended" is not taken from a run changed past the state store: the abort is asked
        // for (a release that has ended ignores it), and the damage escalated.
        const refused = refusedVersionOf(error);
        const raised = refusedReadEscalation(refused, { service: 'agentbus', summary: `release ${releaseId}'s run record fails verification (version ${refused.number}: ${refused.reason}); its abort is requested all the same`, details: { releaseId } });
        await ctx.publish('escalation.raised', raised.data, { id: raised.id });
        status = 'running';
      } else if (isStateNotFound(error)) {
        throw new AgentbusError(ReleaseErrorCodes.releaseInvalid, `there is no release ${releaseId} (no ${releaseRunPath(releaseId)})`, { retryable: false, hint: 'agentbus release list shows the releases' });
      } else throw error;
    }
    if (status !== 'running') {
      ctx.log.info({ releaseId, status }, `release ${releaseId} has ended (${status}): nothing to abort`);
      return;
    }
    await ctx.publish('release.abort-requested', { releaseId, rollback, requestedBy }, { id: `${task.id}.abort-requested`, correlationId: releaseId });
    ctx.log.info({ releaseId, rollback }, `asked release ${releaseId} to stop before its next step${rollback ? ' and roll back what it promoted' : ''}`);
  };
}
