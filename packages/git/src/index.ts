export { GitError, GitErrorCodes, isGitError, type GitErrorCode } from './errors.ts';
export { runGit, DEFAULT_GIT_TIMEOUT_MS, type RunGitOptions, type GitOutput } from './git-command.ts';
export { refNameProblem, isValidRefName, assertValidRefName, isFullSha, assertFullSha } from './ref-names.ts';
export {
  GitRepo,
  initBareRepository,
  type GitRepoOptions,
  type GitIdentity,
  type MergeOptions,
  type MergeResult,
  type PushResult,
  type VerifyRemoteOptions,
  type FastForwardResult,
  type RevertOptions,
  type RevertResult,
  type DriftFacts,
  type DriftCommit,
} from './git-repo.ts';
export { RevertTrailers, revertedShaIn } from './revert-messages.ts';
export type { CommitDetails, ChangedFile, GitPerson } from './commit-details.ts';
