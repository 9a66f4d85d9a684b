import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentbusError, describeError, DEFAULT_SAFE_TEXT_MAX } from '@agentbus/contracts';

test('describeError makes the messages of an error and its causes safe and bounded: what it returns can go into an event, a state reason or a git argument', () => {
  const noise = '\x1b[32mgreen\x1b[39m nul\x00 cr\r\nline';
  const error = new AgentbusError('deploy-command-failed', `the deploy command exited with 1:\n${noise}${'y'.repeat(10_000)}`, { cause: new Error(`inner ${noise}`) });
  const text = describeError(error);
  assert.ok(text.length <= DEFAULT_SAFE_TEXT_MAX, `${text.length} characters`);
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(text, /[\x00-\x08\x0b-\x1f\x7f]/);
  assert.ok(text.startsWith('the deploy command exited with 1:\ngreen nul\\x00 cr\nline'), 'the start is kept, the NUL shown');
  assert.equal(describeError(new Error('outer', { cause: new Error(`inner ${noise}`) })), 'outer: caused by: inner green nul\\x00 cr\nline');
  assert.equal(describeError('a plain string\x07'), 'a plain string\\x07');
  assert.equal(describeError(describeError(error)), text, 'describing a description changes nothing');
});
