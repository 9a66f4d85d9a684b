import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cutToLength, safeLine, safeText } from '@agentbus/contracts';

test('terminal escapes are removed; CR becomes LF; other controls, bidi overrides and lone surrogates are escaped, not dropped', () => {
  assert.equal(safeText('\x1b[31merror:\x1b[0m boom\x1b]0;title\x07 \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\'), 'error: boom link');
  assert.equal(safeText('a\r\nb\rc'), 'a\nb\nc');
  assert.equal(safeText('nul\x00 bell\x07 del\x7f c1\x85'), 'nul\\x00 bell\\x07 del\\x7f c1\\x85');
  assert.equal(safeText('evil\u202egnp.exe \u2066x\u2069 line\u2028sep'), 'evil\\u202egnp.exe \\u2066x\\u2069 line\\u2028sep');
  assert.equal(safeText('lone \ud83d and \udc00 but 😀 stays'), 'lone \ufffd and \ufffd but 😀 stays');
  assert.equal(safeText('tab\tkept\nline'), 'tab\tkept\nline');
  assert.equal(safeLine('one\nline\twith\r\nbreaks'), 'one line with breaks');
  assert.equal(safeText(undefined), '');
  assert.equal(safeText(42), '42');
});

test('the length is bounded at a code point boundary with a marker, keeping the start or the end', () => {
  const long = 'x'.repeat(10_000);
  const start = safeText(long, { max: 100 });
  assert.ok(start.length <= 100);
  assert.match(start, /^x+ … \[\d+ characters cut\]$/);
  const end = safeText(`${'a'.repeat(5_000)}ERROR at the end`, { max: 100, keep: 'end' });
  assert.ok(end.length <= 100);
  assert.match(end, /ERROR at the end$/);
  const emoji = '😀'.repeat(100);
  for (let max = 30; max < 60; max++) {
    const cut = cutToLength(emoji, max);
    assert.ok(cut.length <= max);
    assert.doesNotMatch(cut, /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/, `no half emoji at max ${max}`);
  }
});

test('making text safe twice is making it safe once', () => {
  const samples = ['\x1b[1;32mok\x1b[0m\r\n\x00\u202e😀', 'x'.repeat(20_000), `\ud83d${'y'.repeat(9_000)}`];
  for (const sample of samples) {
    const once = safeText(sample);
    assert.equal(safeText(once), once);
    assert.equal(safeLine(safeLine(sample)), safeLine(sample));
  }
});
