import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GitRepo, isGitError, runGit, type GitErrorCode } from '@agentbus/git';
import { gitFixture, identity } from './fixture.ts';

function rejectsWith(code: GitErrorCode, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(isGitError(error), `expected a GitError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    assert.ok(error.hint, 'every error says what to do next');
    return true;
  };
}

test('a deploy merges the ref as a --no-ff merge commit with trailers, pushes it, and the remote is verified at it', async () => {
  const f = await gitFixture();
  const before = await f.repo.headSha();
  const feature = await f.featureBranch('feature/login', { 'app.txt': 'line 1\nline 2 changed\nline 3\nline 4\n' }, 'Add login');
  await f.repo.fetch();
  const merge = await f.repo.mergeRef('feature/login', { trailers: { 'Agentbus-Deployment': 'dep-1' } });
  assert.equal(merge.created, true);
  assert.equal(merge.previousHead, before);
  assert.equal(merge.mergedCommit, feature);

  const details = await f.repo.commitDetails(merge.mergeCommit);
  assert.deepEqual(details.parents, [before, feature], 'a merge commit even though a fast-forward was possible');
  assert.equal(details.isMerge, true);
  assert.equal(details.subject, 'Merge feature/login into main');
  assert.match(details.body, /^Agentbus-Deployment: dep-1$/m);
  assert.equal(details.author.name, identity.name);
  assert.deepEqual(details.files, [{ path: 'app.txt', added: 2, deleted: 1 }], 'numstat against the first parent');
  assert.deepEqual(details.totals, { files: 1, added: 2, deleted: 1 });

  const pushed = await f.repo.push();
  assert.deepEqual(pushed, { remoteSha: merge.mergeCommit, status: 'pushed' });
  assert.equal(await f.repo.remoteBranchSha(), merge.mergeCommit);
  assert.equal(await f.git(f.origin, ['rev-parse', 'refs/heads/main']), merge.mergeCommit);

  const again = await f.repo.mergeRef('feature/login');
  assert.deepEqual(again, { ...merge, created: false }, 'a redelivered deploy finds its merge and merges nothing');
  assert.equal((await f.repo.push()).status, 'up-to-date');
  assert.equal(await f.repo.headSha(), merge.mergeCommit);
});

test('refs from a message are validated before git sees them; unknown refs and dirty trees are refused', async () => {
  const f = await gitFixture();
  await f.repo.fetch();
  for (const ref of ['--upload-pack=touch pwned', '-b', 'a..b', 'feat ure', 'x:y', 'refs/heads/@{1}', 'a.lock', 'trailing/']) {
    await assert.rejects(f.repo.mergeRef(ref), rejectsWith('invalid-argument'), ref);
  }
  await assert.rejects(f.repo.mergeRef('feature/missing'), rejectsWith('unknown-ref', /not a branch of origin/));
  await assert.rejects(f.repo.verifyRemoteSha('HEAD'), rejectsWith('invalid-argument', /full 40-character/));

  await f.featureBranch('feature/x', { 'x.txt': 'x\n' });
  await f.repo.fetch();
  writeFileSync(join(f.repo.path, 'app.txt'), 'edited in production\n');
  const head = await f.repo.headSha();
  await assert.rejects(f.repo.mergeRef('feature/x'), rejectsWith('dirty-worktree', /app\.txt/));
  assert.equal(await f.repo.headSha(), head);
});

test('a merge conflict is aborted: the clone is clean and at the same commit, and the error names the file', async () => {
  const f = await gitFixture();
  await f.featureBranch('feature/a', { 'app.txt': 'line 1\nA\nline 3\n' });
  await f.repo.fetch();
  await f.repo.mergeRef('feature/a');
  await f.repo.push();
  await f.dev(['fetch', '--quiet', 'origin']);
  await f.dev(['checkout', '--quiet', '-B', 'feature/b', 'origin/main~1']);
  writeFileSync(join(f.dir, 'dev', 'app.txt'), 'line 1\nB\nline 3\n');
  await f.dev(['commit', '--quiet', '-am', 'B']);
  await f.dev(['push', '--quiet', 'origin', 'feature/b']);
  await f.repo.fetch();
  const head = await f.repo.headSha();
  await assert.rejects(f.repo.mergeRef('feature/b'), rejectsWith('merge-conflict', /app\.txt/));
  assert.equal(await f.repo.headSha(), head);
  assert.equal(await f.repo.isClean(), true);
  assert.equal(readFileSync(join(f.repo.path, 'app.txt'), 'utf8'), 'line 1\nA\nline 3\n');
});

test('a push the remote rejects (pre-receive hook) throws push-rejected with the hook output; the unpushed merge can be dropped', async () => {
  const f = await gitFixture();
  const before = await f.repo.headSha();
  await f.featureBranch('feature/rejected', { 'r.txt': 'r\n' });
  f.originHook('pre-receive', 'echo "main is frozen for the release" >&2\nexit 1');
  await f.repo.fetch();
  const merge = await f.repo.mergeRef('feature/rejected');
  await assert.rejects(f.repo.push(), (error) => {
    rejectsWith('push-rejected', /pre-receive hook declined/)(error);
    assert.ok(isGitError(error));
    assert.deepEqual(error.details.remoteOutput, ['main is frozen for the release']);
    assert.equal(error.retryable, false);
    return true;
  });
  assert.equal(await f.repo.remoteBranchSha(), before);
  assert.equal((await f.repo.fastForwardToRemote()).status, 'ahead');
  assert.deepEqual(await f.repo.dropUnpushedCommits(), [merge.mergeCommit]);
  assert.equal(await f.repo.headSha(), before);
  assert.equal(await f.repo.isClean(), true);
  assert.equal((await f.repo.fastForwardToRemote()).status, 'up-to-date');
});

test('git push exits 0 but the remote did not move: verifyRemoteSha catches it (a hook that drops the update, a pushurl to elsewhere)', async () => {
  const f = await gitFixture();
  const before = await f.repo.headSha();
  await f.featureBranch('feature/lost', { 'lost.txt': 'lost\n' });
  await f.repo.fetch();
  const merge = await f.repo.mergeRef('feature/lost');

  // The server accepts the push, says ok, then puts the branch back (a gatekeeper bot, a failed replication).
  f.originHook('post-receive', 'while read old new ref; do git update-ref "$ref" "$old"; done');
  const raw = await runGit(['push', '--porcelain', 'origin', 'refs/heads/main:refs/heads/main'], { cwd: f.repo.path });
  assert.match(raw.stdout, /^ \trefs\/heads\/main:refs\/heads\/main\t[0-9a-f]+\.\.[0-9a-f]+$/m, 'git reports a successful fast-forward');
  await assert.rejects(f.repo.verifyRemoteSha(merge.mergeCommit, { attempts: 2, intervalMs: 10 }), (error) => {
    rejectsWith('remote-sha-mismatch', /did not reach the remote/)(error);
    assert.ok(isGitError(error));
    assert.deepEqual([error.details.expected, error.details.actual], [merge.mergeCommit, before]);
    return true;
  });
  await assert.rejects(f.repo.push({ attempts: 1 }), rejectsWith('remote-sha-mismatch'), 'push() itself verifies');
  assert.equal(await f.git(f.repo.path, ['rev-parse', 'refs/remotes/origin/main']), merge.mergeCommit, 'the tracking ref believes git');
  assert.deepEqual(await f.repo.dropUnpushedCommits(), [merge.mergeCommit], 'the remote itself is asked before dropping');
  assert.equal(await f.repo.headSha(), before);

  // A pushurl that points at a mirror nobody deploys from: the push lands there, origin never moves.
  const fresh = await gitFixture();
  const mirror = join(fresh.dir, 'mirror.git');
  await runGit(['clone', '--quiet', '--bare', fresh.origin, mirror], { cwd: fresh.dir });
  await runGit(['config', 'remote.origin.pushurl', mirror], { cwd: fresh.repo.path });
  await fresh.featureBranch('feature/elsewhere', { 'e.txt': 'e\n' });
  await fresh.repo.fetch();
  const elsewhere = await fresh.repo.mergeRef('feature/elsewhere');
  await assert.rejects(fresh.repo.push({ attempts: 1 }), rejectsWith('remote-sha-mismatch'));
  assert.equal(await fresh.git(mirror, ['rev-parse', 'refs/heads/main']), elsewhere.mergeCommit, 'the push itself succeeded, to the wrong place');
});

test('fastForwardToRemote follows a direct push to origin and refuses to hide a divergence', async () => {
  const f = await gitFixture();
  const direct = await f.pushToMain({ 'hotfix.txt': 'fix\n' }, 'Hotfix pushed by hand');
  await f.repo.fetch();
  assert.deepEqual(await f.repo.fastForwardToRemote(), { status: 'fast-forwarded', localSha: direct, remoteSha: direct });
  assert.equal(await f.repo.headSha(), direct);

  await f.featureBranch('feature/local', { 'local.txt': 'l\n' });
  await f.repo.fetch();
  await f.repo.mergeRef('feature/local');
  await f.pushToMain({ 'other.txt': 'o\n' }, 'Another direct push');
  await f.repo.fetch();
  await assert.rejects(f.repo.fastForwardToRemote(), rejectsWith('branch-diverged'));
  await assert.rejects(f.repo.dropUnpushedCommits(), rejectsWith('branch-diverged'), 'never throws away what the remote does not have');
  await assert.rejects(f.repo.push(), rejectsWith('push-rejected', /fetch first|non-fast-forward/), 'never forced');
});

test('revertCommit reverts a merge with -m 1 once: a redelivered rollback finds the revert, and a revert is never reverted', async () => {
  const f = await gitFixture();
  const before = await f.repo.headSha();
  await f.featureBranch('feature/broken', { 'app.txt': 'broken\n', 'new.txt': 'new\n' }, 'Break the app');
  await f.repo.fetch();
  const merge = await f.repo.mergeRef('feature/broken');
  await f.repo.push();

  const revert = await f.repo.revertCommit(merge.mergeCommit, { deploymentId: 'dep-42', reason: 'Health check /health failed: connection refused' });
  assert.equal(revert.created, true);
  assert.equal(revert.mainline, 1);
  const details = await f.repo.commitDetails(revert.revertCommit);
  assert.deepEqual(details.parents, [merge.mergeCommit]);
  assert.equal(details.subject, `Revert "Merge feature/broken into main"`);
  assert.match(details.body, new RegExp(`This reverts commit ${merge.mergeCommit}, reversing changes made to ${before}\\.`));
  assert.match(details.body, /Health check \/health failed/);
  assert.match(details.body, new RegExp(`^Agentbus-Reverts: ${merge.mergeCommit}$`, 'm'));
  assert.match(details.body, /^Agentbus-Deployment: dep-42$/m);
  assert.equal(await f.git(f.repo.path, ['rev-parse', `${revert.revertCommit}^{tree}`]), await f.git(f.repo.path, ['rev-parse', `${before}^{tree}`]), 'the tree is the one before the merge');

  assert.deepEqual(await f.repo.revertCommit(merge.mergeCommit, { deploymentId: 'dep-42' }), { ...revert, created: false });
  assert.equal(await f.repo.findRevertOf(merge.mergeCommit), revert.revertCommit);
  assert.equal(await f.repo.revertedCommitOf(revert.revertCommit), merge.mergeCommit);
  assert.equal(await f.repo.revertedCommitOf(merge.mergeCommit), undefined);
  await assert.rejects(f.repo.revertCommit(revert.revertCommit), rejectsWith('revert-of-revert'));

  await f.repo.push();
  assert.equal(await f.repo.remoteBranchSha(), revert.revertCommit);
  const log = (await f.git(f.origin, ['log', '--format=%s', 'main'])).split('\n');
  assert.equal(log.filter((subject) => subject.startsWith('Revert')).length, 1, 'exactly one revert on origin');
});

test('a merge that was reverted is not merged "again" for a new request: already-merged; the request that made it still finds it', async () => {
  const f = await gitFixture();
  await f.featureBranch('feature/broken', { 'app.txt': 'broken\n' }, 'Break the app');
  await f.repo.fetch();
  const merge = await f.repo.mergeRef('feature/broken', { trailers: { 'Agentbus-Deployment': 'dep-1' } });
  const revert = await f.repo.revertCommit(merge.mergeCommit, { deploymentId: 'dep-1' });
  await f.repo.push();

  await assert.rejects(f.repo.mergeRef('feature/broken', { trailers: { 'Agentbus-Deployment': 'dep-2' } }), (error) => {
    rejectsWith('already-merged', new RegExp(`reverted by ${revert.revertCommit}`))(error);
    assert.ok(isGitError(error));
    assert.deepEqual([error.details.mergeCommit, error.details.revertCommit], [merge.mergeCommit, revert.revertCommit]);
    return true;
  });
  await assert.rejects(f.repo.mergeRef('feature/broken'), rejectsWith('already-merged'), 'without trailers it cannot be the same request');
  assert.deepEqual(await f.repo.mergeRef('feature/broken', { trailers: { 'Agentbus-Deployment': 'dep-1' } }), { ...merge, created: false }, 'a redelivery of dep-1 finds its merge');
  assert.equal(await f.repo.headSha(), revert.revertCommit, 'nothing was merged');
});

test('a plain commit gets a plain revert; a revert made by hand with git\'s message counts; conflicts abort cleanly', async () => {
  const f = await gitFixture();
  const plain = await f.pushToMain({ 'app.txt': 'line 1\nline 2\nline 3\nplain\n' }, 'Plain change');
  const later = await f.pushToMain({ 'app.txt': 'line 1\nline 2\nline 3\nplain, edited later\n' }, 'Edit the same line');
  await f.repo.fetch();
  await f.repo.fastForwardToRemote();
  await assert.rejects(f.repo.revertCommit(plain), rejectsWith('revert-conflict', /app\.txt/));
  assert.equal(await f.repo.headSha(), later);
  assert.equal(await f.repo.isClean(), true);

  const other = await f.pushToMain({ 'other.txt': 'o\n' }, 'Other change');
  await f.dev(['revert', '--no-edit', other]);
  await f.dev(['push', '--quiet', 'origin', 'main']);
  const byHand = await f.dev(['rev-parse', 'HEAD']);
  await f.repo.fetch();
  assert.equal(await f.repo.findRevertOf(other), byHand, 'found on the remote-tracking branch before fast-forwarding');
  const found = await f.repo.revertCommit(other);
  assert.deepEqual(found, { revertCommit: byHand, revertedCommit: other, created: false, mainline: undefined });

  await f.repo.fastForwardToRemote();
  const third = await f.pushToMain({ 'third.txt': '3\n' }, 'Third change');
  await f.repo.fetch();
  await f.repo.fastForwardToRemote();
  const reverted = await f.repo.revertCommit(third);
  assert.equal(reverted.mainline, undefined);
  assert.deepEqual((await f.repo.commitDetails(reverted.revertCommit)).files, [{ path: 'third.txt', added: 0, deleted: 1 }]);
});

test('redeploy-previous: switchToCommit checks out a previous commit without touching the branch or the remote', async () => {
  const f = await gitFixture();
  const good = await f.repo.headSha();
  await f.featureBranch('feature/bad', { 'app.txt': 'bad\n' });
  await f.repo.fetch();
  const merge = await f.repo.mergeRef('feature/bad');
  await f.repo.push();

  assert.deepEqual(await f.repo.switchToCommit(good), { previousHead: merge.mergeCommit });
  assert.equal(await f.repo.headSha(), good);
  assert.equal(await f.repo.currentBranch(), undefined);
  assert.equal(readFileSync(join(f.repo.path, 'app.txt'), 'utf8'), 'line 1\nline 2\nline 3\n');
  assert.equal(await f.repo.branchSha(), merge.mergeCommit, 'the branch keeps its history');
  assert.equal(await f.repo.remoteBranchSha(), merge.mergeCommit, 'nothing pushed');
  await assert.rejects(f.repo.mergeRef('feature/bad'), rejectsWith('not-on-branch', /detached/));

  const unrelated = await f.featureBranch('feature/never-merged', { 'n.txt': 'n\n' });
  await f.repo.fetch();
  await assert.rejects(f.repo.switchToCommit(unrelated), rejectsWith('unknown-ref', /not in the history of main/));

  await f.repo.switchToBranch();
  assert.equal(await f.repo.currentBranch(), 'main');
  assert.equal(await f.repo.headSha(), merge.mergeCommit);
});

test('a remote that does not answer times out as a retryable git-timeout; a missing git binary is named', async () => {
  const f = await gitFixture();
  const hang = join(f.dir, 'hanging-upload-pack');
  writeFileSync(hang, '#!/bin/sh\nexec sleep 3\n', { mode: 0o755 });
  await runGit(['config', 'remote.origin.uploadpack', hang], { cwd: f.repo.path });
  const slow = new GitRepo({ path: f.repo.path, branch: 'main', timeoutMs: 300 });
  const started = Date.now();
  await assert.rejects(slow.fetch(), (error) => {
    rejectsWith('git-timeout', /300 ms/)(error);
    assert.equal((error as { retryable: boolean }).retryable, true);
    return true;
  });
  assert.ok(Date.now() - started < 2_500, 'killed at the time-out');
  await assert.rejects(runGit(['--version'], { cwd: f.dir, env: { PATH: join(f.dir, 'no-bin') } }), rejectsWith('git-not-found'));
});

test('commitDetails lists renames and binary files; a revert that would change nothing is refused and leaves the clone clean', async () => {
  const f = await gitFixture();
  await f.dev(['fetch', '--quiet', 'origin']);
  await f.dev(['checkout', '--quiet', '-B', 'main', 'origin/main']);
  await f.dev(['mv', 'README.md', 'DOCS.md']);
  writeFileSync(join(f.dir, 'dev', 'logo.bin'), Buffer.from([0, 1, 2, 255]));
  await f.dev(['add', 'logo.bin']);
  await f.dev(['commit', '--quiet', '-m', 'Rename docs, add a logo', '-m', 'Longer explanation.']);
  await f.dev(['push', '--quiet', 'origin', 'main']);
  const sha = await f.dev(['rev-parse', 'HEAD']);
  await f.repo.fetch();
  const details = await f.repo.commitDetails(sha);
  assert.equal(details.subject, 'Rename docs, add a logo');
  assert.equal(details.body, 'Longer explanation.');
  assert.equal(details.author.email, 'dev@example.invalid');
  assert.match(details.author.date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
  assert.deepEqual(details.files, [
    { path: 'DOCS.md', previousPath: 'README.md', added: 0, deleted: 0 },
    { path: 'logo.bin', added: null, deleted: null },
  ]);

  await f.pushToMain({ 'flag.txt': 'off\n' }, 'Add a flag');
  const change = await f.pushToMain({ 'flag.txt': 'on\n' }, 'Turn the flag on');
  await f.pushToMain({ 'flag.txt': 'off\n' }, 'Turn it off again by hand');
  await f.repo.fetch();
  await f.repo.fastForwardToRemote();
  const head = await f.repo.headSha();
  await assert.rejects(f.repo.revertCommit(change), rejectsWith('revert-empty'));
  assert.equal(await f.repo.isClean(), true);
  assert.equal(await f.git(f.repo.path, ['rev-parse', '--verify', '--quiet', 'REVERT_HEAD']).catch(() => 'none'), 'none');
  assert.equal(await f.repo.headSha(), head);
});

/** A hook in the working clone (not origin): `pre-commit`, `pre-merge-commit`, … */
function cloneHook(repo: GitRepo, name: string, script: string): string {
  const path = join(repo.path, '.git', 'hooks', name);
  writeFileSync(path, `#!/bin/sh\n${script}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** The clone is clean, at `head`, with no revert, merge or cherry-pick in progress. */
async function assertAsFound(repo: GitRepo, head: string): Promise<void> {
  assert.equal(await repo.headSha(), head, 'at the same commit');
  assert.equal(await repo.isClean(), true, 'no staged or modified files');
  for (const state of ['REVERT_HEAD', 'MERGE_HEAD', 'CHERRY_PICK_HEAD']) assert.equal(existsSync(join(repo.path, '.git', state)), false, `no ${state}`);
}

async function pushedMerge(f: Awaited<ReturnType<typeof gitFixture>>, branch = 'feature/broken') {
  await f.featureBranch(branch, { 'app.txt': 'broken\n' }, 'Break the app');
  await f.repo.fetch();
  const merge = await f.repo.mergeRef(branch);
  await f.repo.push();
  return merge;
}

test('a revert whose commit fails half-way (a pre-commit hook in the clone refuses it) is aborted: the clone is clean and at the same commit, and the retry succeeds once the hook is gone', async () => {
  const f = await gitFixture();
  const merge = await pushedMerge(f);
  const hook = cloneHook(f.repo, 'pre-commit', 'echo "\x1b[31mlint failed\x1b[0m" >&2\nexit 1');
  await assert.rejects(f.repo.revertCommit(merge.mergeCommit, { deploymentId: 'dep-1', reason: 'health failed' }), (error) => {
    rejectsWith('git-failed', /could not commit the revert of [0-9a-f]{40}: .*lint failed.*; it was aborted and .* is as before/)(error);
    // eslint-disable-next-line no-control-regex -- ESC is what must not be there
    assert.doesNotMatch((error as Error).message, /\x1b/, 'the hook\'s colours are not in the message');
    return true;
  });
  await assertAsFound(f.repo, merge.mergeCommit);
  rmSync(hook);
  const retry = await f.repo.revertCommit(merge.mergeCommit, { deploymentId: 'dep-1', reason: 'health failed' });
  assert.equal(retry.created, true);
  assert.equal(await f.git(f.repo.path, ['rev-parse', `${retry.revertCommit}^`]), merge.mergeCommit, 'one revert, of the merge');
});

test('a revert or merge left in progress by a process that died half-way (REVERT_HEAD, MERGE_HEAD) is aborted before the next operation, which succeeds', async () => {
  const f = await gitFixture();
  const merge = await pushedMerge(f);
  // What a crash between `git revert --no-commit` and `git commit` leaves behind.
  await f.git(f.repo.path, ['revert', '--no-commit', '-m', '1', merge.mergeCommit]);
  assert.ok(existsSync(join(f.repo.path, '.git', 'REVERT_HEAD')));
  assert.equal(await f.repo.isClean(), false);
  const revert = await f.repo.revertCommit(merge.mergeCommit, { deploymentId: 'dep-2' });
  assert.equal(revert.created, true);
  assert.equal(await f.repo.isClean(), true);
  assert.equal(existsSync(join(f.repo.path, '.git', 'REVERT_HEAD')), false);
  await f.repo.push();

  // A merge stopped by a hook (MERGE_HEAD), left as it was: the next deploy's merge goes through.
  await f.featureBranch('feature/next', { 'next.txt': 'next\n' });
  await f.repo.fetch();
  const head = await f.repo.headSha();
  await f.git(f.repo.path, ['-c', `user.name=${identity.name}`, '-c', `user.email=${identity.email}`, 'merge', '--no-ff', '--no-commit', 'origin/feature/next']);
  assert.ok(existsSync(join(f.repo.path, '.git', 'MERGE_HEAD')));
  assert.equal((await f.repo.fastForwardToRemote()).status, 'up-to-date', 'fast-forward aborts the leftover merge first');
  await assertAsFound(f.repo, head);
  await f.git(f.repo.path, ['-c', `user.name=${identity.name}`, '-c', `user.email=${identity.email}`, 'merge', '--no-ff', '--no-commit', 'origin/feature/next']);
  const merged = await f.repo.mergeRef('feature/next');
  assert.equal(merged.created, true);
  assert.deepEqual((await f.repo.commitDetails(merged.mergeCommit)).parents, [head, await f.repo.resolveCommit('feature/next')]);
});

test('a merge a hook refuses (pre-merge-commit) is aborted and named as such, not as a conflict; the clone is as it was', async () => {
  const f = await gitFixture();
  await f.featureBranch('feature/hooked', { 'h.txt': 'h\n' });
  await f.repo.fetch();
  const head = await f.repo.headSha();
  const hook = cloneHook(f.repo, 'pre-merge-commit', 'echo "merges are frozen" >&2\nexit 1');
  await assert.rejects(f.repo.mergeRef('feature/hooked'), rejectsWith('git-failed', /could not merge feature\/hooked into main: .*merges are frozen.*; it was aborted/));
  await assertAsFound(f.repo, head);
  rmSync(hook);
  assert.equal((await f.repo.mergeRef('feature/hooked')).created, true);
});

test('outside text reaching git is made safe: a NUL in an argument is refused before git runs; reasons and trailers in commits, and a hook\'s output in errors, are safe and bounded', async () => {
  const f = await gitFixture();
  const noise = '\x1b[31mred\x1b[0m nul\x00 cr\r\n\u202eflip';
  const hostile = `${noise}${'z'.repeat(10_000)}${noise}`;
  await assert.rejects(runGit(['commit', '--allow-empty', '-m', `a\x00b`], { cwd: f.repo.path }), rejectsWith('invalid-argument', /git commit: argument 4 holds a NUL byte.*nothing was run/));

  const merge = await pushedMerge(f);
  const revert = await f.repo.revertCommit(merge.mergeCommit, { deploymentId: 'dep-3', reason: `health check failed: ${hostile}` });
  const body = (await f.repo.commitDetails(revert.revertCommit)).body;
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(body, /[\x00-\x08\x0b-\x1f\x7f\u202e]/);
  assert.match(body, /health check failed: red nul\\x00 cr\n\\u202eflipz+/, 'the reason is there, its NUL shown');
  assert.ok(body.length < 5_000, `the reason is bounded (${body.length})`);
  assert.match(body, new RegExp(`^Agentbus-Reverts: ${merge.mergeCommit}$`, 'm'), 'the trailers follow the reason');
  await f.repo.push();

  await f.featureBranch('feature/trailers', { 't.txt': 't\n' });
  await f.repo.fetch();
  const merged = await f.repo.mergeRef('feature/trailers', { message: `Merge ${noise}`, trailers: { 'Agentbus-Requested-By': `bot${noise}` } });
  const mergeDetails = await f.repo.commitDetails(merged.mergeCommit);
  assert.equal(mergeDetails.subject, 'Merge red nul\\x00 cr \\u202eflip');
  assert.match(mergeDetails.body, /^Agentbus-Requested-By: botred nul\\x00 cr \\u202eflip$/m);
  assert.equal((await f.repo.mergeRef('feature/trailers', { trailers: { 'Agentbus-Requested-By': `bot${noise}` } })).created, false, 'the same trailers find the same merge');

  await f.featureBranch('feature/refused', { 'r.txt': 'r\n' });
  // 10 kB of output, then the reason in colour with a control character and carriage returns.
  f.originHook('pre-receive', `printf '%s\\n${'\\033[31mfrozen\\033[0m \\001\\r'.repeat(3)}\\n' "$(head -c 10000 /dev/zero | tr '\\0' 'q')" >&2\nexit 1`);
  await f.repo.fetch();
  await f.repo.mergeRef('feature/refused');
  await assert.rejects(f.repo.push(), (error) => {
    rejectsWith('push-rejected', /rejected the push to main: .*\(remote: .*frozen \\x01/)(error);
    assert.ok(isGitError(error));
    for (const text of [error.message, String(error.details.stderr), ...(error.details.remoteOutput as string[])]) {
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch(text.replace(/\n/g, ''), /[\x00-\x08\x0b-\x1f\x7f]/);
      assert.ok(text.length <= 8_000, `bounded (${text.length})`);
    }
    return true;
  });
});

test('changeId: the same change on other commits (a branch redone off the reverted main) has the same patch id as the merge that brought it; a changed one another; no change none', async () => {
  const f = await gitFixture();
  await f.featureBranch('feature/broken', { 'app.txt': 'broken\n', 'new.txt': 'new\n' }, 'Break the app');
  await f.repo.fetch();
  const merge = await f.repo.mergeRef('feature/broken');
  const reverted = await f.repo.mergedChangeId(merge.mergeCommit);
  assert.match(reverted ?? '', /^[0-9a-f]{40}$/);
  await f.repo.revertCommit(merge.mergeCommit, { deploymentId: 'dep-1' });
  await f.repo.push();

  await f.featureBranch('feature/broken-again', { 'app.txt': 'broken\n', 'new.txt': 'new\n' }, 'Break the app once more');
  await f.featureBranch('feature/fixed', { 'app.txt': 'fixed\n', 'new.txt': 'new\n' }, 'Fix the app');
  await f.repo.fetch();
  const head = await f.repo.branchSha();
  const again = await f.repo.resolveCommit('feature/broken-again');
  assert.notEqual(again, await f.repo.resolveCommit('feature/broken'), 'other commits');
  assert.equal(await f.repo.changeId(head, again), reverted, 'the same change');
  assert.notEqual(await f.repo.changeId(head, await f.repo.resolveCommit('feature/fixed')), reverted, 'a changed one');
  assert.equal(await f.repo.changeId(head, head), undefined, 'nothing changes');
});
