import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gitFixture } from './fixture.ts';

test('driftFacts: a clean clone has none; changed and untracked files, local commits, and first-parent commits on the remote without an agentbus trailer are each reported, with their authors', async () => {
  const f = await gitFixture();
  await f.featureBranch('feature/x', { 'feature.txt': 'x\n' }, 'A feature');
  await f.repo.fetch();
  const merged = await f.repo.mergeRef('feature/x', { trailers: { 'Agentbus-Deployment': 'd-1' } });
  await f.repo.push();
  await f.repo.fetch();
  const clean = await f.repo.driftFacts({ since: merged.mergeCommit });
  assert.deepEqual({ ...clean, head: undefined, remote: undefined }, { head: undefined, remote: undefined, changed: [], untracked: [], localCommits: [], foreignCommits: [] }, 'the merge (with its trailer) and the branch it brought are agentbus\'s');

  // Someone pushes straight to main, around agentbus.
  const hotfix = await f.pushToMain({ 'hotfix.txt': 'quick fix\n' }, 'Hotfix in prod');
  // Someone edits the production clone and commits there.
  writeFileSync(join(f.repo.path, 'app.txt'), 'edited by hand\n');
  writeFileSync(join(f.repo.path, 'notes.txt'), 'mine\n');
  await f.git(f.repo.path, ['commit', '--quiet', '--allow-empty', '-m', 'local only']);
  await f.repo.fetch();
  const facts = await f.repo.driftFacts({ since: merged.mergeCommit });
  assert.deepEqual(facts.changed, ['app.txt']);
  assert.deepEqual(facts.untracked, ['notes.txt']);
  assert.deepEqual(facts.localCommits.map((c) => [c.subject, c.author]), [['local only', 'A Developer <dev@example.invalid>']]);
  assert.deepEqual(facts.foreignCommits.map((c) => [c.sha, c.author, c.subject]), [[hotfix, 'A Developer <dev@example.invalid>', 'Hotfix in prod']]);
});
