import { FleetError } from './errors.ts';
import { shortSha } from '@agentbus/contracts';
import { GitRepo, isGitError, type PushResult } from '@agentbus/git';
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

/**
 * Brings the clone to the remote branch before a change is made on it (a deploy's merge, a
 * rollback's revert): back on the branch (a redeploy-previous rollback leaves it detached),
 * fetched, fast-forwarded. Commits that never reached the remote (a push that failed before a
 * crash) were never deployed: they are dropped, and returned (newest first) for the caller to
 * log. Throws `branch-diverged` when both sides have commits the other lacks, and `clone-drifted`
 * (changing nothing) when the clone holds changes agentbus did not make (refuseDrift).
 */
export async function syncCloneToRemote(repo: GitRepo): Promise<{ dropped: string[] }> {
  await repo.fetch();
  await refuseDrift(repo);
  await repo.switchToBranch();
  const position = await repo.fastForwardToRemote();
  return { dropped: position.status === 'ahead' ? await repo.dropUnpushedCommits() : [] };
}

/** The step of pushAndVerify a failure belongs to. */
export type PushStage = 'push' | 'verify-push';

/**
 * Pushes the branch and resolves only when the remote branch is verified at the local head
 * (GitRepo.push: never forced). On failure it throws git's error as it is, after, with
 * `dropUnpushed`, taking the unpushed commits back off the branch so that no later push
 * publishes them by accident (a failure to drop them goes to `onDropFailed`, and the push's
 * error is still the one thrown). pushStageOf(error) says which step failed.
 */
export async function pushAndVerify(repo: GitRepo, options: { dropUnpushed?: boolean; onDropFailed?: (error: unknown) => void } = {}): Promise<PushResult> {
  try {
    return await repo.push();
  } catch (error) {
    if (options.dropUnpushed) await repo.dropUnpushedCommits().catch((dropError: unknown) => options.onDropFailed?.(dropError));
    throw error;
  }
}

/** `verify-push` when git reported the push done but the remote branch is elsewhere (remote-sha-mismatch), `push` for any other failure. */
export function pushStageOf(error: unknown): PushStage {
  return isGitError(error, 'remote-sha-mismatch') ? 'verify-push' : 'push';
}

/**
 * Production lockdown: a deploy or rollback never builds on, or discards, what someone changed in
 * the clone by hand. Uncommitted changes to tracked files, and local commits without agentbus's
 * trailer, throw FleetError `clone-drifted` naming them (untracked files are left to git, which
 * refuses to overwrite them itself).
 */
export async function refuseDrift(repo: GitRepo): Promise<void> {
  const facts = await repo.driftFacts();
  const foreign = facts.localCommits.filter((commit) => !commit.agentbus);
  if (facts.changed.length === 0 && foreign.length === 0) return;
  const parts = [
    ...(facts.changed.length ? [`uncommitted changes in ${facts.changed.slice(0, 10).join(', ')}${facts.changed.length > 10 ? ' …' : ''}`] : []),
    ...(foreign.length ? [`${foreign.length} local commit(s) agentbus did not make: ${foreign.slice(0, 5).map((c) => `${shortSha(c.sha)} by ${c.author}`).join(', ')}`] : []),
  ];
  throw new FleetError('clone-drifted', `${repo.path} was changed outside agentbus (${parts.join('; ')}): nothing was merged and nothing was discarded`, {
    hint: 'put the change through the pipeline (a branch and `agentbus deploy`), or move it away yourself (git stash, a branch), then try again; `agentbus lockdown scan` lists the drift',
    details: { changed: facts.changed.slice(0, 100), commits: foreign.slice(0, 100) },
  });
}
