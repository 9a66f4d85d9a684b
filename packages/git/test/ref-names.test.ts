import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertFullSha, isFullSha, isValidRefName, refNameProblem, revertedShaIn } from '@agentbus/git';

test('ref names follow git check-ref-format and never start with "-"', () => {
  for (const name of ['main', 'feature/login-fix', 'release-1.2', 'v1.0.0', 'user/jo_e/x', 'a1b2c3d', 'deadbeef'.repeat(5)]) {
    assert.equal(refNameProblem(name), undefined, name);
  }
  const bad: Record<string, RegExp> = {
    '': /empty/,
    '-delete': /option/,
    '--upload-pack=x': /option/,
    'a..b': /\.\./,
    'has space': /space/,
    'tilde~1': /~/,
    'caret^': /\^/,
    'colon:x': /:/,
    'glob*': /\*/,
    'question?': /\?/,
    'bracket[': /\[/,
    'back\\slash': /\\/,
    'at@{1}': /@\{/,
    '@': /"@"/,
    '/lead': /empty path component/,
    'trail/': /empty path component/,
    'double//slash': /empty path component/,
    'dot.': /ends with "\."/,
    'x/.hidden': /starting with "\."/,
    'x/y.lock': /\.lock/,
    'new\nline': /control/,
  };
  for (const [name, problem] of Object.entries(bad)) {
    assert.match(refNameProblem(name) ?? 'valid', problem, JSON.stringify(name));
    assert.equal(isValidRefName(name), false);
  }
  assert.match(refNameProblem('x'.repeat(256)) ?? '', /255/);
});

test('only full shas pass assertFullSha', () => {
  assert.equal(isFullSha('a'.repeat(40)), true);
  assert.equal(isFullSha('a'.repeat(64)), true);
  assert.equal(isFullSha('A'.repeat(40)), false);
  assert.equal(isFullSha('a'.repeat(39)), false);
  assert.throws(() => assertFullSha('main'), (error: Error & { code?: string }) => error.code === 'invalid-argument');
});

test('a revert is recognised by git\'s sentence or the trailer, by the full sha only', () => {
  const sha = '4d62098a'.padEnd(40, '0');
  assert.equal(revertedShaIn(`Revert "x"\n\nThis reverts commit ${sha}.`), sha);
  assert.equal(revertedShaIn(`Revert "x"\n\nThis reverts commit ${sha}, reversing\nchanges made to ${'1'.repeat(40)}.`), sha);
  assert.equal(revertedShaIn(`Undo\n\nAgentbus-Reverts: ${sha}\n`), sha);
  assert.equal(revertedShaIn('Revert "x"\n\nThis reverts commit 4d62098a.'), undefined, 'an abbreviation is not enough');
  assert.equal(revertedShaIn(`Fix after ${sha}`), undefined);
});
