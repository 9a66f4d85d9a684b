import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { safeLine, shortSha } from '@agentbus/contracts';
import { COMMIT_HEADER_FORMAT, parseCommitHeader, parseNumstat, totalsOf, type CommitDetails } from './commit-details.ts';
import { GitError, isGitError } from './errors.ts';
import { runGit, type GitOutput } from './git-command.ts';
import { parsePushPorcelain } from './push-output.ts';
import { assertFullSha, assertValidRefName, isAbbreviatedSha } from './ref-names.ts';
import { formatTrailers, RevertTrailers, revertedShaIn, revertMessageParagraphs, trailerProblem } from './revert-messages.ts';

/** Author and committer of the merge and revert commits agentbus makes. */
export interface GitIdentity {
  name: string;
  email: string;
}

export interface GitRepoOptions {
  /** The working clone (a checkout, not a bare repository). */
  path: string;
  /** The branch deployments are merged into, pushed to and reverted on. */
  branch: string;
  /** The remote as named in the clone. Default `origin`. */
  remote?: string;
  /** Per git command, network commands included. Default 60 000 ms. */
  timeoutMs?: number;
  /** Who merge and revert commits are by. Default: the clone's own git config (user.name, user.email). */
  identity?: GitIdentity;
}

export interface MergeOptions {
  /** The merge commit's subject. Default `Merge <ref> into <branch>`. */
  message?: string;
  /** Written as `Key: value` trailers, e.g. `{ 'Agentbus-Deployment': id }`; each value made one safe line (safeLine). */
  trailers?: Record<string, string>;
}

export interface MergeResult {
  /** The merge commit on the branch. */
  mergeCommit: string;
  /** The branch head before the merge: the merge's first parent, what ran before this deploy. */
  previousHead: string;
  /** The commit `ref` resolved to: the merge's second parent. */
  mergedCommit: string;
  /** False when this exact commit had already been merged by a merge commit on the branch (a redelivered deploy). */
  created: boolean;
}

export interface PushResult {
  /** The commit the remote branch is now verified to be at. */
  remoteSha: string;
  /** `up-to-date`: the remote already had it (a repeated push); `pushed`: this push moved it. */
  status: 'pushed' | 'up-to-date';
}

export interface VerifyRemoteOptions {
  /** How many reads of the remote before giving up (for remotes that serve reads from a lagging replica). Default 3. */
  attempts?: number;
  /** Pause between reads. Default 250 ms. */
  intervalMs?: number;
}

export interface FastForwardResult {
  /** `ahead`: the local branch has commits the remote lacks (an earlier push failed); nothing was changed. */
  status: 'up-to-date' | 'fast-forwarded' | 'ahead';
  localSha: string;
  remoteSha: string;
}

export interface RevertOptions {
  /** Named in an `Agentbus-Deployment` trailer: which deployment's rollback this is. */
  deploymentId?: string;
  /** A paragraph in the message saying why (e.g. the failed health check). */
  reason?: string;
}

export interface RevertResult {
  /** The revert commit on the branch (made now, or found from an earlier rollback). */
  revertCommit: string;
  revertedCommit: string;
  /** False when the branch already had a revert of this commit: nothing was done (idempotent). */
  created: boolean;
  /** 1 when the reverted commit is a merge (`git revert -m 1`): the branch is restored to its first parent. */
  mainline: 1 | undefined;
}

/**
 * A working clone that agentbus deploys from: the production checkout of one service.
 *
 * Contracts every method keeps:
 * - git runs through execFile with validated arguments (see runGit); a ref from a message is
 *   checked against git's ref-name rules before it reaches git.
 * - History is never rewritten where anyone else can see it: no `--force`, no `reset --hard`.
 *   Rollbacks are new commits (revertCommit) or a checkout of an older commit (switchToCommit).
 * - Methods that change the working clone refuse a dirty tree (modified tracked files) and,
 *   when they fail half-way (a conflict, a hook that refuses the commit), abort what they
 *   started, so the clone is left as they found it. A revert, merge or cherry-pick left in
 *   progress by a process that died half-way (REVERT_HEAD, MERGE_HEAD, CHERRY_PICK_HEAD) is
 *   aborted before each of them starts, so that a retry can succeed.
 * - Text that is written into commits (messages, reasons, trailer values) is made safe first
 *   (safeText); git's own output in an error is safe and bounded (see runGit).
 * - A push is only done when the remote itself (git ls-remote) says the branch is at the
 *   pushed commit: push() checks that with verifyRemoteSha and throws otherwise.
 *
 * A deploy: fetch → fastForwardToRemote → mergeRef → push → run the deploy command.
 * A rollback: fetch → fastForwardToRemote → revertCommit(merge) → push → deploy again.
 */
/** A commit as a drift scan reports it. */
export interface DriftCommit {
  sha: string;
  /** `Name <email>`. */
  author: string;
  subject: string;
  /** It carries an Agentbus-Deployment trailer: agentbus made it (a merge or revert never pushed). */
  agentbus: boolean;
}

/** GitRepo.driftFacts: the clone as it is. */
export interface DriftFacts {
  head: string;
  /** The remote branch as last fetched; undefined when the remote has no such branch. */
  remote: string | undefined;
  /** Tracked files with uncommitted changes (staged or not, or unmerged). */
  changed: string[];
  untracked: string[];
  /** Commits on HEAD the remote branch does not have. */
  localCommits: DriftCommit[];
  /** The remote branch's first-parent commits since `since` without an Agentbus-Deployment trailer. */
  foreignCommits: DriftCommit[];
}

/** The path of a `status --porcelain=v2` line of a changed (1), renamed (2) or unmerged (u) entry. */
function pathOfStatusLine(line: string): string {
  const fields = line.split(' ');
  const skip = line.startsWith('1 ') ? 8 : line.startsWith('2 ') ? 9 : 10;
  return fields.slice(skip).join(' ').split('\t')[0] ?? '';
}

export class GitRepo {
  readonly path: string;
  readonly branch: string;
  readonly remote: string;
  readonly timeoutMs: number | undefined;
  readonly identity: GitIdentity | undefined;
  private gitDir: string | undefined;

  constructor(options: GitRepoOptions) {
    assertValidRefName(options.branch, 'branch');
    assertValidRefName(options.remote ?? 'origin', 'remote');
    this.path = resolve(options.path);
    this.branch = options.branch;
    this.remote = options.remote ?? 'origin';
    this.timeoutMs = options.timeoutMs;
    this.identity = options.identity;
  }

  /** Clones `url` into `path` (created) with `branch` checked out. The URL may hold credentials; errors redact them. */
  static async clone(url: string, path: string, options: Omit<GitRepoOptions, 'path'>): Promise<GitRepo> {
    if (url.startsWith('-')) throw new GitError('invalid-argument', `invalid remote url ${JSON.stringify(url)}`, { hint: 'give a path or a URL' });
    const repo = new GitRepo({ ...options, path });
    mkdirSync(dirname(repo.path), { recursive: true });
    await runGit(['clone', '--quiet', '--origin', repo.remote, '--branch', repo.branch, '--', url, repo.path], {
      cwd: dirname(repo.path),
      timeoutMs: options.timeoutMs,
      retryable: true,
    });
    return repo;
  }

  /** Fetches every branch of the remote (pruning deleted ones), so refs to merge can be resolved. */
  async fetch(): Promise<void> {
    await this.git(['fetch', '--quiet', '--prune', '--', this.remote], { retryable: true });
  }

  /** The commit checked out (and so deployed from): the branch head, or the commit of a redeploy-previous. */
  async headSha(): Promise<string> {
    return this.revParse('HEAD');
  }

  /** The local branch head (`refs/heads/<branch>`), wherever HEAD is. */
  async branchSha(): Promise<string> {
    return this.revParse(`refs/heads/${this.branch}`);
  }

  /** The branch HEAD is on, or undefined when HEAD is detached (after switchToCommit). */
  async currentBranch(): Promise<string | undefined> {
    try {
      return (await this.git(['symbolic-ref', '--quiet', '--short', 'HEAD'])).stdout.trim();
    } catch (error) {
      if (isGitError(error, 'git-failed') && error.details.exitCode === 1) return undefined;
      throw error;
    }
  }

  /**
   * The branch's commit as the remote itself reports it now (`git ls-remote`), not the local
   * tracking ref (which `git push` updates on its own say-so). Undefined when the remote has no
   * such branch. Reads through the fetch URL: what the next clone or deploy would see.
   */
  async remoteBranchSha(): Promise<string | undefined> {
    const wanted = `refs/heads/${this.branch}`;
    const { stdout } = await this.git(['ls-remote', '--heads', '--', this.remote, wanted], { retryable: true });
    for (const line of stdout.split('\n')) {
      const [sha, ref] = line.split('\t');
      if (ref === wanted && sha) return sha;
    }
    return undefined;
  }

  /**
   * Seed 000's "verify push" guard: resolves only when the remote branch is at exactly
   * `expected` (a full sha). Otherwise throws GitError `remote-sha-mismatch` with `expected` and
   * `actual` in details: the change did not reach the remote, whatever git's exit code said.
   */
  async verifyRemoteSha(expected: string, options: VerifyRemoteOptions = {}): Promise<void> {
    assertFullSha(expected, 'expected sha');
    const attempts = Math.max(1, options.attempts ?? 3);
    let actual: string | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      actual = await this.remoteBranchSha();
      if (actual === expected) return;
      if (attempt < attempts) await sleep(options.intervalMs ?? 250);
    }
    throw new GitError(
      'remote-sha-mismatch',
      `remote branch ${this.remote}/${this.branch} is ${actual ? `at ${actual}` : 'missing'}, not at ${expected}: the change did not reach the remote, whatever git reported`,
      {
        hint: `check the remote: a hook that drops updates, a pushurl that points elsewhere, or someone else pushing to ${this.branch} at the same time (git ls-remote ${this.remote} ${this.branch})`,
        details: { remote: this.remote, branch: this.branch, expected, actual: actual ?? null, attempts },
      },
    );
  }

  /**
   * The commit a ref from a task names, after fetch(): the remote branch `<remote>/<ref>`, else
   * the tag `<ref>`, else a commit sha (full or abbreviated). Local branches of the working clone
   * are never used: they may be stale. Throws `invalid-argument` or `unknown-ref`.
   */
  async resolveCommit(ref: string): Promise<string> {
    assertValidRefName(ref, 'ref');
    const candidates = [`refs/remotes/${this.remote}/${ref}`, `refs/tags/${ref}`];
    if (isAbbreviatedSha(ref)) candidates.push(ref);
    for (const candidate of candidates) {
      const sha = await this.tryRevParse(candidate);
      if (sha) return sha;
    }
    throw new GitError('unknown-ref', `${ref} is not a branch of ${this.remote}, a tag or a commit in ${this.path}`, {
      hint: `push ${ref} to ${this.remote} first; the clone is fetched before merging (git fetch ${this.remote} && git branch -r)`,
      details: { ref, remote: this.remote },
    });
  }

  /** True when tracked files have no uncommitted changes (untracked files are not counted: git refuses to overwrite them itself). */
  async isClean(): Promise<boolean> {
    return (await this.dirtyFiles()).length === 0;
  }

  /**
   * Brings the local branch up to the remote branch after fetch() when it is behind (someone
   * pushed directly), so a merge can be pushed without a non-fast-forward rejection. Never
   * discards anything: `ahead` is reported, not undone; diverged throws `branch-diverged`.
   */
  async fastForwardToRemote(): Promise<FastForwardResult> {
    await this.abortInterrupted();
    await this.assertOnBranch();
    const localSha = await this.branchSha();
    const remoteSha = await this.remoteTrackingSha();
    if (localSha === remoteSha) return { status: 'up-to-date', localSha, remoteSha };
    if (await this.isAncestor(localSha, remoteSha)) {
      await this.assertClean('fast-forward');
      await this.git(['merge', '--ff-only', '--quiet', remoteSha]);
      return { status: 'fast-forwarded', localSha: remoteSha, remoteSha };
    }
    if (await this.isAncestor(remoteSha, localSha)) return { status: 'ahead', localSha, remoteSha };
    throw this.divergedError(localSha, remoteSha);
  }

  /**
   * Moves the branch back to the remote branch when it is strictly ahead of it: for a merge
   * committed locally whose push was rejected or did not reach the remote, so that no later push
   * publishes it by accident. Uses `git reset --keep`, which refuses to touch uncommitted
   * changes; the commits were never on the remote, so no shared history changes. Fetches first:
   * after a push that git reported as done but the remote dropped, the tracking ref claims the
   * push arrived, and only the remote itself knows better. Returns the commits made on the
   * branch that were dropped (first-parent, newest first; still in the reflog).
   */
  async dropUnpushedCommits(): Promise<string[]> {
    await this.abortInterrupted();
    await this.assertOnBranch();
    await this.assertClean('drop unpushed commits');
    await this.fetch();
    const localSha = await this.branchSha();
    const remoteSha = await this.remoteTrackingSha();
    if (localSha === remoteSha) return [];
    if (!(await this.isAncestor(remoteSha, localSha))) throw this.divergedError(localSha, remoteSha);
    const dropped = (await this.git(['rev-list', '--first-parent', `${remoteSha}..${localSha}`])).stdout.split('\n').filter(Boolean);
    await this.git(['reset', '--keep', '--quiet', remoteSha]);
    return dropped;
  }

  /**
   * Merges the commit `ref` resolves to (see resolveCommit) into the branch as a merge commit
   * (`--no-ff`, even when a fast-forward were possible, so a deploy is one commit to revert).
   *
   * Idempotent: when that exact commit was already merged by a merge commit on the branch, returns
   * it with `created: false` and changes nothing; once that merge has been reverted, only for the
   * same request (the merge carries every given trailer: a redelivered deploy). When the commit is
   * in the branch some other way (merged through another branch, or merged, reverted and asked for
   * again), throws `already-merged`. A conflict aborts the merge and throws `merge-conflict` naming the files.
   * Refuses a dirty tree (`dirty-worktree`) and a HEAD off the branch (`not-on-branch`).
   */
  async mergeRef(ref: string, options: MergeOptions = {}): Promise<MergeResult> {
    const trailers = options.trailers ?? {};
    const problem = trailerProblem(trailers);
    if (problem) throw new GitError('invalid-argument', `cannot merge ${ref}: ${problem}`, { hint: 'give trailers as non-empty values with letter, digit and - keys' });
    await this.abortInterrupted();
    await this.assertOnBranch();
    await this.assertClean(`merge ${ref}`);
    const mergedCommit = await this.resolveCommit(ref);
    const previousHead = await this.headSha();
    if (await this.isAncestor(mergedCommit, previousHead)) {
      const existing = await this.findMergeOf(mergedCommit);
      if (existing) {
        const revertedBy = await this.findRevertOf(existing.sha);
        // A merge that was reverted is only "this merge" again for the request that made it (same trailers: a redelivery).
        if (!revertedBy || (await this.hasTrailers(existing.sha, trailers))) return { mergeCommit: existing.sha, previousHead: existing.firstParent, mergedCommit, created: false };
        throw new GitError('already-merged', `${ref} (${mergedCommit}) was merged into ${this.branch} by ${existing.sha} and reverted by ${revertedBy}: merging it again would change nothing`, {
          hint: `to bring it back, revert the revert (git revert ${shortSha(revertedBy)}) and deploy that, or deploy a new commit`,
          details: { ref, mergedCommit, branch: this.branch, mergeCommit: existing.sha, revertCommit: revertedBy },
        });
      }
      throw new GitError('already-merged', `${ref} (${mergedCommit}) is already in ${this.branch}, but not through a merge of that commit`, {
        hint: `nothing new to deploy; if it was merged and reverted before, revert the revert to bring it back (git revert <revert sha>), or deploy a new commit`,
        details: { ref, mergedCommit, branch: this.branch },
      });
    }
    const subject = safeLine(options.message ?? `Merge ${ref} into ${this.branch}`, 500);
    const messageArgs = ['-m', subject, ...(Object.keys(trailers).length ? ['-m', formatTrailers(trailers)] : [])];
    try {
      await this.git(['merge', '--no-ff', '--no-edit', '--quiet', ...messageArgs, mergedCommit]);
    } catch (error) {
      if (await this.tryRevParse('MERGE_HEAD')) {
        const files = await this.conflictedFiles();
        if (files.length === 0) {
          const abortFailure = await this.git(['merge', '--abort']).then(() => undefined, (abortError: unknown) => abortError);
          throw this.abortedError(`merge ${ref} into ${this.branch}`, error, { ref, mergedCommit }, abortFailure);
        }
        await this.git(['merge', '--abort']);
        throw new GitError('merge-conflict', `merging ${ref} into ${this.branch} conflicts in ${files.join(', ')}; the merge was aborted`, {
          hint: `rebase ${ref} onto ${this.remote}/${this.branch}, resolve the conflicts, push it and deploy again`,
          cause: error,
          details: { ref, mergedCommit, files, stderr: isGitError(error) ? error.details.stderr : undefined },
        });
      }
      throw error;
    }
    return { mergeCommit: await this.headSha(), previousHead, mergedCommit, created: true };
  }

  /**
   * Pushes the local branch to the same branch on the remote (never forced: a push that is not a
   * fast-forward is rejected), then verifyRemoteSha(local branch head). Resolves only when the
   * remote is verified at that commit. Throws `push-rejected` (the remote's reason and hook
   * output in details), `remote-sha-mismatch` (git said ok, the remote did not move), or a
   * retryable `git-failed` / `git-timeout` (the remote could not be reached).
   */
  async push(verify: VerifyRemoteOptions = {}): Promise<PushResult> {
    const localSha = await this.branchSha();
    const refspec = `refs/heads/${this.branch}:refs/heads/${this.branch}`;
    let output: GitOutput;
    try {
      output = await this.git(['push', '--porcelain', '--', this.remote, refspec], { retryable: true });
    } catch (error) {
      const rejection = isGitError(error) ? parsePushPorcelain(String(error.details.stdout ?? '')) : undefined;
      if (rejection?.flag === '!' && isGitError(error)) {
        const stderr = String(error.details.stderr ?? '');
        // The remote's words are outside text (a hook prints what it likes): one safe line each, bounded.
        const remoteSays = stderr
          .split('\n')
          .filter((line) => line.startsWith('remote:'))
          .map((line) => safeLine(line.replace(/^remote:\s*/, ''), 500).trim())
          .filter(Boolean)
          .slice(-20);
        const summary = safeLine(rejection.summary, 500);
        throw new GitError('push-rejected', `${this.remote} rejected the push to ${this.branch}: ${summary}${remoteSays.length ? ` (remote: ${safeLine(remoteSays.join(' | '), 2_000)})` : ''}`, {
          hint: rejection.summary.includes('non-fast-forward') || rejection.summary.includes('fetch first')
            ? `${this.branch} moved on ${this.remote}: fetch, fast-forward and merge again`
            : `the remote refused the update (a hook or a branch protection); read its message, then fix the cause on the remote or in the change`,
          cause: error,
          details: { remote: this.remote, branch: this.branch, localSha, reason: summary, remoteOutput: remoteSays, stderr },
        });
      }
      throw error;
    }
    const pushed = parsePushPorcelain(output.stdout);
    await this.verifyRemoteSha(localSha, verify);
    return { remoteSha: localSha, status: pushed?.flag === '=' ? 'up-to-date' : 'pushed' };
  }

  /**
   * Reverts `commit` (a full sha on the branch) with a new commit: `git revert -m 1` for a merge
   * (the branch goes back to its first parent), a plain revert otherwise. The message keeps git's
   * "This reverts commit <sha>" sentence and adds `Agentbus-Reverts` / `Agentbus-Deployment`
   * trailers. Does not push.
   *
   * Idempotent: when the branch (local or remote-tracking) already has a revert of `commit`,
   * returns it with `created: false`. Refuses to revert a revert (`revert-of-revert`): that would
   * silently re-apply a change that was rolled back. A conflict aborts and throws `revert-conflict`;
   * a revert that would change nothing throws `revert-empty`.
   */
  async revertCommit(commit: string, options: RevertOptions = {}): Promise<RevertResult> {
    assertFullSha(commit);
    const trailerValues: Record<string, string> = options.deploymentId === undefined ? {} : { [RevertTrailers.deployment]: options.deploymentId };
    const problem = trailerProblem(trailerValues);
    if (problem) throw new GitError('invalid-argument', `cannot revert ${commit}: ${problem}`, { hint: 'give the deployment id as one line' });
    await this.abortInterrupted();
    await this.assertOnBranch();
    await this.assertClean(`revert ${commit}`);
    const header = await this.commitHeader(commit);
    const revertOf = revertedShaIn(`${header.subject}\n\n${header.body}`);
    if (revertOf) {
      throw new GitError('revert-of-revert', `${commit} is itself a revert of ${revertOf}; agentbus does not revert a revert on its own`, {
        hint: `reverting it would re-apply ${revertOf}; if that is wanted, a person should do it (git revert ${shortSha(commit)}) and deploy it`,
        details: { commit, reverts: revertOf },
      });
    }
    const mainline = header.isMerge ? 1 : undefined;
    const existing = await this.findRevertOf(commit);
    if (existing) return { revertCommit: existing, revertedCommit: commit, created: false, mainline };
    if (!(await this.isAncestor(commit, await this.headSha()))) {
      throw new GitError('unknown-ref', `${commit} is not on ${this.branch}: there is nothing to revert`, {
        hint: `fetch and fast-forward ${this.branch}, and check which commit was deployed`,
        details: { commit, branch: this.branch },
      });
    }

    try {
      await this.git(['revert', '--no-commit', ...(mainline ? ['-m', '1'] : []), commit]);
    } catch (error) {
      if (await this.tryRevParse('REVERT_HEAD')) {
        const files = await this.conflictedFiles();
        await this.git(['revert', '--abort']);
        throw new GitError('revert-conflict', `reverting ${commit} conflicts with later commits in ${files.join(', ')}; the revert was aborted`, {
          hint: 'later commits changed the same lines: revert by hand (or fix forward) and deploy that',
          cause: error,
          details: { commit, files, stderr: isGitError(error) ? error.details.stderr : undefined },
        });
      }
      throw error;
    }
    // The revert is staged: from here on, any failure (a hook refusing the commit, an argument
    // git cannot take) aborts it, so the clone is as it was and a retry starts clean.
    try {
      if ((await this.dirtyFiles()).length === 0) {
        throw new GitError('revert-empty', `reverting ${commit} would change nothing: its changes are already undone on ${this.branch}`, {
          hint: 'nothing to roll back in git; redeploy the branch head if the service still runs the bad code',
          details: { commit },
        });
      }
      const paragraphs = revertMessageParagraphs({
        revertedSha: commit,
        revertedSubject: header.subject,
        restoredParent: mainline ? header.parents[0] : undefined,
        deploymentId: options.deploymentId,
        reason: options.reason,
      });
      await this.git(['commit', '--quiet', ...paragraphs.flatMap((paragraph) => ['-m', paragraph])]);
    } catch (error) {
      const abortFailure = await this.git(['revert', '--abort']).then(() => undefined, (abortError: unknown) => abortError);
      if (isGitError(error, 'revert-empty') && !abortFailure) throw error;
      throw this.abortedError(`commit the revert of ${commit}`, error, { commit }, abortFailure);
    }
    return { revertCommit: await this.headSha(), revertedCommit: commit, created: true, mainline };
  }

  /**
   * The newest commit on the branch (local or remote-tracking) that reverts `commit`, by git's
   * "This reverts commit <sha>" sentence or the Agentbus-Reverts trailer; undefined when none.
   * Finds reverts made by hand with git's message too. Note: it still finds a revert that was
   * itself reverted later (the change re-applied); callers key idempotency on the deployment.
   */
  async findRevertOf(commit: string): Promise<string | undefined> {
    assertFullSha(commit);
    const tips = [`refs/heads/${this.branch}`];
    const tracking = `refs/remotes/${this.remote}/${this.branch}`;
    if (await this.tryRevParse(tracking)) tips.push(tracking);
    const { stdout } = await this.git(['log', '--format=%H%x00%B%x1e', '--fixed-strings', `--grep=${commit}`, ...tips, `^${commit}`, '--']);
    for (const record of stdout.split('\x1e')) {
      const [sha, message = ''] = record.replace(/^\n/, '').split('\0');
      if (sha && revertedShaIn(message) === commit) return sha;
    }
    return undefined;
  }

  /** The commit that `commit` reverts, or undefined when it is not a revert. */
  async revertedCommitOf(commit: string): Promise<string | undefined> {
    const header = await this.commitHeader(commit);
    return revertedShaIn(`${header.subject}\n\n${header.body}`);
  }

  /** Who, when, what and how much: sha, author, dates, message, parents and numstat per file against the first parent. */
  async commitDetails(commit: string): Promise<CommitDetails> {
    const header = await this.commitHeader(commit);
    const { stdout } = await this.git(['show', '-z', '--numstat', '--format=', '--diff-merges=first-parent', header.sha, '--']);
    const files = parseNumstat(stdout);
    return { ...header, files, totals: totalsOf(files) };
  }

  /**
   * The redeploy-previous strategy (seed 003: a rollback is a version switch, not an edit):
   * checks out `commit` (a full sha that must be on the branch) as a detached HEAD, so the deploy
   * command can run on exactly that tree. The branch and the remote stay as they are: no commit,
   * no push, nothing rewritten; the bad change stays in the branch until a fix is deployed.
   * Until switchToBranch(), mergeRef and revertCommit refuse with `not-on-branch`.
   */
  async switchToCommit(commit: string): Promise<{ previousHead: string }> {
    assertFullSha(commit);
    await this.abortInterrupted();
    await this.assertClean(`switch to ${commit}`);
    if (!(await this.isAncestor(commit, await this.branchSha()))) {
      throw new GitError('unknown-ref', `${commit} is not in the history of ${this.branch}: only a commit that was deployed from it can be redeployed`, {
        hint: 'pass the previous release\'s commit from the release manifest',
        details: { commit, branch: this.branch },
      });
    }
    const previousHead = await this.headSha();
    await this.git(['checkout', '--quiet', '--detach', commit]);
    return { previousHead };
  }

  /** Checks the branch out again (after switchToCommit). No-op when already on it; refuses a dirty tree. */
  async switchToBranch(): Promise<void> {
    await this.abortInterrupted();
    if ((await this.currentBranch()) === this.branch) return;
    await this.assertClean(`switch to ${this.branch}`);
    await this.git(['checkout', '--quiet', this.branch, '--']);
  }

  /**
   * What `tip` changes since it forked from `base` (both commits), as `git patch-id --stable` of
   * that diff: the same change has the same id whatever commits carry it (a rebase, a cherry-pick
   * onto the reverted branch), a changed one another. Context lines count, so a change re-applied
   * over different surrounding lines may get another id: a match means "the same change", no
   * match "not known to be". Undefined when `tip` changes nothing since the fork point.
   */
  async changeId(base: string, tip: string): Promise<string | undefined> {
    const forkPoint = (await this.git(['merge-base', base, tip])).stdout.trim();
    const diff = (await this.git(['diff', '--no-color', '--no-ext-diff', '--binary', forkPoint, tip])).stdout;
    if (!diff.trim()) return undefined;
    const id = await runGit(['patch-id', '--stable'], { cwd: this.path, timeoutMs: this.timeoutMs, input: diff });
    return id.stdout.trim().split(/\s+/)[0] || undefined;
  }

  /** The change a merge commit brought in (changeId of its second parent against its first); of a plain commit, the commit's own change. */
  async mergedChangeId(mergeCommit: string): Promise<string | undefined> {
    const tip = (await this.tryRevParse(`${mergeCommit}^2`)) ?? mergeCommit;
    return this.changeId(await this.revParse(`${mergeCommit}^1`), tip);
  }

  /** True when `ancestor` is in the history of `descendant` (both commits). */
  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    try {
      await this.git(['merge-base', '--is-ancestor', ancestor, descendant]);
      return true;
    } catch (error) {
      if (isGitError(error, 'git-failed') && error.details.exitCode === 1) return false;
      throw error;
    }
  }

  /**
   * Aborts a revert, merge or cherry-pick that a process left in progress when it died half-way
   * (its REVERT_HEAD, MERGE_HEAD or CHERRY_PICK_HEAD is still there): the clone goes back to the
   * commit it was at, which is where every operation of this class starts from. Returns what was
   * aborted (empty when nothing was in progress).
   */
  async abortInterrupted(): Promise<string[]> {
    this.gitDir ??= (await this.git(['rev-parse', '--absolute-git-dir'])).stdout.trim();
    const aborted: string[] = [];
    for (const [head, operation] of [['REVERT_HEAD', 'revert'], ['CHERRY_PICK_HEAD', 'cherry-pick'], ['MERGE_HEAD', 'merge']] as const) {
      if (!existsSync(resolve(this.gitDir, head))) continue;
      await this.git([operation, '--abort']);
      aborted.push(operation);
    }
    return aborted;
  }

  private git(args: string[], options: { retryable?: boolean } = {}): Promise<GitOutput> {
    const env = this.identity
      ? {
          GIT_AUTHOR_NAME: this.identity.name,
          GIT_AUTHOR_EMAIL: this.identity.email,
          GIT_COMMITTER_NAME: this.identity.name,
          GIT_COMMITTER_EMAIL: this.identity.email,
        }
      : undefined;
    return runGit(args, { cwd: this.path, timeoutMs: this.timeoutMs, env, retryable: options.retryable });
  }

  /**
   * What a drift scan needs to know of the clone, after fetch() (lockdown, guardrails §5): files
   * changed and untracked (`status --porcelain=v2`), commits on HEAD that the remote branch does not
   * have, and the remote branch's first-parent commits since `since` that carry no
   * `Agentbus-Deployment` trailer (every merge and revert agentbus makes has one; the commits a
   * merged branch brings are not first-parent). Names and subjects are made safe, one line each.
   */
  async driftFacts(options: { since?: string } = {}): Promise<DriftFacts> {
    const status = (await this.git(['status', '--porcelain=v2', '--untracked-files=all'])).stdout.split('\n').filter(Boolean);
    const changed = status.filter((line) => /^[12u] /.test(line)).map((line) => safeLine(pathOfStatusLine(line)));
    const untracked = status.filter((line) => line.startsWith('? ')).map((line) => safeLine(line.slice(2)));
    const head = await this.headSha();
    const remoteRef = `refs/remotes/${this.remote}/${this.branch}`;
    const remote = await this.tryRevParse(remoteRef);
    const log = async (args: string[]) =>
      (await this.git(['log', '--format=%H%x09%an <%ae>%x09%(trailers:key=Agentbus-Deployment,valueonly,separator=%x2C)%x09%s', ...args])).stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [sha = '', author = '', trailer = '', ...subject] = line.split('\t');
          return { sha, author: safeLine(author), agentbus: trailer.trim() !== '', subject: safeLine(subject.join('\t')) };
        });
    const localCommits = remote ? await log([`${remote}..${head}`]) : [];
    const foreignCommits = remote && options.since && (await this.isAncestor(options.since, remote)) ? (await log(['--first-parent', `${options.since}..${remote}`])).filter((c) => !c.agentbus) : [];
    return { head, remote, changed, untracked, localCommits, foreignCommits };
  }

  private async revParse(rev: string): Promise<string> {
    return (await this.git(['rev-parse', '--verify', '--end-of-options', `${rev}^{commit}`])).stdout.trim();
  }

  private async tryRevParse(rev: string): Promise<string | undefined> {
    try {
      return (await this.git(['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`])).stdout.trim() || undefined;
    } catch (error) {
      if (isGitError(error, 'git-failed')) return undefined;
      throw error;
    }
  }

  private async commitHeader(commit: string): Promise<Omit<CommitDetails, 'files' | 'totals'>> {
    assertValidRefName(commit, 'commit');
    const sha = await this.tryRevParse(commit);
    if (!sha) throw new GitError('unknown-ref', `${commit} is not a commit in ${this.path}`, { hint: 'fetch first, and pass a full sha', details: { commit } });
    const { stdout } = await this.git(['show', '-s', `--format=${COMMIT_HEADER_FORMAT}`, sha, '--']);
    return parseCommitHeader(stdout.replace(/\n$/, ''));
  }

  private async remoteTrackingSha(): Promise<string> {
    const sha = await this.tryRevParse(`refs/remotes/${this.remote}/${this.branch}`);
    if (!sha) {
      throw new GitError('unknown-ref', `${this.remote}/${this.branch} is not known in ${this.path}`, {
        hint: `fetch first; check that ${this.branch} exists on ${this.remote} (git ls-remote ${this.remote})`,
        details: { remote: this.remote, branch: this.branch },
      });
    }
    return sha;
  }

  /** True when `commit`'s message has every one of `trailers` (none given: false). */
  private async hasTrailers(commit: string, trailers: Record<string, string>): Promise<boolean> {
    const wanted = formatTrailers(trailers).split('\n').filter(Boolean);
    if (wanted.length === 0) return false;
    const lines = new Set((await this.commitHeader(commit)).body.split('\n').map((line) => line.trim()));
    return wanted.every((line) => lines.has(line));
  }

  private async findMergeOf(commit: string): Promise<{ sha: string; firstParent: string } | undefined> {
    const { stdout } = await this.git(['log', '--first-parent', '--merges', '--format=%H %P', `refs/heads/${this.branch}`, `^${commit}`, '--']);
    for (const line of stdout.split('\n')) {
      const [sha, firstParent, ...others] = line.trim().split(' ');
      if (sha && firstParent && others.includes(commit)) return { sha, firstParent };
    }
    return undefined;
  }

  private async dirtyFiles(): Promise<string[]> {
    const { stdout } = await this.git(['status', '--porcelain=v1', '--untracked-files=no']);
    return stdout.split('\n').filter(Boolean).map((line) => line.slice(3));
  }

  private async assertClean(operation: string): Promise<void> {
    const files = await this.dirtyFiles();
    if (files.length) {
      throw new GitError('dirty-worktree', `cannot ${operation}: ${this.path} has uncommitted changes in ${files.slice(0, 10).join(', ')}${files.length > 10 ? ' …' : ''}`, {
        hint: 'production clones change only through agentbus: find who edited them, then commit the change through a deploy or discard it (git stash)',
        details: { files },
      });
    }
  }

  private async assertOnBranch(): Promise<void> {
    const current = await this.currentBranch();
    if (current !== this.branch) {
      throw new GitError('not-on-branch', `${this.path} is ${current ? `on branch ${current}` : 'on a detached HEAD (a redeployed previous commit)'}, not on ${this.branch}`, {
        hint: `switch back to ${this.branch} first (GitRepo.switchToBranch, or git checkout ${this.branch})`,
        details: { current: current ?? null, branch: this.branch },
      });
    }
  }

  private async conflictedFiles(): Promise<string[]> {
    const { stdout } = await this.git(['diff', '--name-only', '--diff-filter=U']);
    return stdout.split('\n').filter(Boolean);
  }

  /**
   * A step that failed after it changed the clone, and was aborted: the original GitError's code
   * (git-failed for anything else), saying so. When the abort failed too, it says that instead:
   * the next operation on the clone aborts it before it starts (abortInterrupted).
   */
  private abortedError(operation: string, error: unknown, details: Record<string, unknown>, abortFailure?: unknown): GitError {
    const code = isGitError(error) ? error.code : 'git-failed';
    const why = error instanceof Error ? error.message : String(error);
    const after = abortFailure
      ? `aborting it failed too (${safeLine(abortFailure instanceof Error ? abortFailure.message : abortFailure, 500)}); the next operation on ${this.path} aborts it first`
      : `it was aborted and ${this.path} is as before`;
    return new GitError(code, `could not ${operation}: ${safeLine(why, 2_000)}; ${after}`, {
      hint: 'a hook in the working clone (pre-commit, commit-msg, pre-merge-commit) may have refused it: read its message above and fix the hook or the change; then retry',
      retryable: isGitError(error) ? error.retryable : false,
      cause: error,
      details: { ...details, stderr: isGitError(error) ? error.details.stderr : undefined },
    });
  }

  private divergedError(localSha: string, remoteSha: string): GitError {
    return new GitError('branch-diverged', `${this.branch} (${localSha}) and ${this.remote}/${this.branch} (${remoteSha}) have diverged`, {
      hint: `someone pushed to ${this.remote}/${this.branch} while this clone had unpushed commits; a person must reconcile them (nothing was force-pushed)`,
      details: { localSha, remoteSha, branch: this.branch },
    });
  }
}

/** Creates an empty bare repository (an "origin") at `path`. */
export async function initBareRepository(path: string, options: { defaultBranch?: string; timeoutMs?: number } = {}): Promise<void> {
  const branch = options.defaultBranch ?? 'main';
  assertValidRefName(branch, 'branch');
  mkdirSync(path, { recursive: true });
  await runGit(['init', '--bare', '--quiet', `--initial-branch=${branch}`, '--', resolve(path)], { cwd: resolve(path), timeoutMs: options.timeoutMs });
}
