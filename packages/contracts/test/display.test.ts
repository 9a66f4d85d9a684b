import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ellipsize, formatDuration, shortSha } from '@agentbus/contracts';

test('shortSha: the first 12 characters of a commit, `-` for none', () => {
  assert.equal(shortSha('0123456789abcdef0123456789abcdef01234567'), '0123456789ab');
  assert.equal(shortSha(null), '-');
  assert.equal(shortSha(undefined), '-');
  assert.equal(shortSha(''), '-');
});

test('formatDuration: one wording for chat and post-mortems (90 s is "1 min 30 s"), n/a when unknown', () => {
  assert.equal(formatDuration(850), '850 ms');
  assert.equal(formatDuration(4_249), '4.2 s');
  assert.equal(formatDuration(59_949), '59.9 s');
  assert.equal(formatDuration(90_000), '1 min 30 s');
  assert.equal(formatDuration(185_000), '3 min 05 s');
  assert.equal(formatDuration(2 * 3_600_000 + 7 * 60_000 + 59_000), '2 h 07 min');
  assert.equal(formatDuration(-5), '0 ms');
  assert.equal(formatDuration(null), 'n/a');
  assert.equal(formatDuration(undefined), 'n/a');
});

test('ellipsize: at most max code units, cut at a code point and ending in the ellipsis', () => {
  assert.equal(ellipsize('short', 10), 'short');
  assert.equal(ellipsize('abcdefghij', 5), 'abcd…');
  assert.equal(ellipsize('abcdefghij', 6, '...'), 'abc...');
  // 'a' then emoji (two code units each): a cut between the halves of a pair moves before it.
  const cut = ellipsize('a😀😀😀', 3);
  assert.equal(cut, 'a…');
  assert.ok(cut.length <= 3);
});
