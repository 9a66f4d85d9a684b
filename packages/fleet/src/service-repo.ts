import { GitRepo } from '@agentbus/git';
import type { FleetService } from './fleet-schema.ts';

/** The working clone of a registered service, as its configuration describes it. */
export function openServiceRepo(service: FleetService): GitRepo {
  return new GitRepo({
    path: service.git.path,
    branch: service.git.branch,
    remote: service.git.remote,
    timeoutMs: service.git.timeoutMs,
    identity: service.git.committer,
  });
}
