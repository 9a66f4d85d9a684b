import { AgentbusError, errorGuard, type AgentbusErrorOptions } from '@agentbus/contracts';

export const GitErrorCodes = {
  /** git is not installed or not on PATH. */
  gitNotFound: 'git-not-found',
  /** git exited non-zero; `details.stderr` has what git said. */
  gitFailed: 'git-failed',
  /** A git command ran longer than its time-out and was killed. */
  gitTimeout: 'git-timeout',
  /** A ref, sha or trailer given by a caller (or a message) is not acceptable to pass to git. */
  invalidArgument: 'invalid-argument',
  /** The ref to merge or revert does not name a commit, here or on the remote. */
  unknownRef: 'unknown-ref',
  /** Tracked files of the working clone have uncommitted changes. */
  dirtyWorktree: 'dirty-worktree',
  /** HEAD is not on the configured branch (detached after a redeploy-previous, or another branch). */
  notOnBranch: 'not-on-branch',
  /** The ref's commits are already in the branch, but not through a merge of that commit. */
  alreadyMerged: 'already-merged',
  /** The merge stopped on conflicts; it was aborted and the working clone is as before. */
  mergeConflict: 'merge-conflict',
  /** The revert stopped on conflicts; it was aborted and the working clone is as before. */
  revertConflict: 'revert-conflict',
  /** Reverting would change nothing: the commit's changes are already undone. */
  revertEmpty: 'revert-empty',
  /** The commit is itself a revert: reverting it would re-apply what was undone. */
  revertOfRevert: 'revert-of-revert',
  /** The remote refused the push (hook declined, non-fast-forward, protected branch). */
  pushRejected: 'push-rejected',
  /** The remote branch is not at the commit it should be at, whatever git's exit code said. */
  remoteShaMismatch: 'remote-sha-mismatch',
  /** Local and remote branch both have commits the other lacks. */
  branchDiverged: 'branch-diverged',
} as const;
export type GitErrorCode = (typeof GitErrorCodes)[keyof typeof GitErrorCodes];

declare module '@agentbus/contracts' {
  interface AgentbusErrorCodeMaps {
    git: typeof GitErrorCodes;
  }
}

/** Every failure of @agentbus/git: a stable code, retryability as data, git's stderr in `details.stderr`. */
export class GitError extends AgentbusError {
  declare readonly code: GitErrorCode;

  constructor(code: GitErrorCode, message: string, options: AgentbusErrorOptions = {}) {
    super(code, message, options);
  }
}

export const isGitError = errorGuard(GitError);
