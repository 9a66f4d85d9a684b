import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentbusError, ContractsErrorCodes, describeError, DEFAULT_SAFE_TEXT_MAX, isRetryableFailure, type AgentbusErrorCode } from '@agentbus/contracts';

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

test('isRetryableFailure: an AgentbusError says so itself; any other thrown value counts as transient', () => {
  assert.equal(isRetryableFailure(new AgentbusError('invalid-data', 'bad', { retryable: false })), false);
  assert.equal(isRetryableFailure(new AgentbusError('invalid-data', 'busy', { retryable: true })), true);
  assert.equal(isRetryableFailure(new AgentbusError('invalid-data', 'default')), false, 'an AgentbusError is not retryable unless it says so');
  assert.equal(isRetryableFailure(new Error('socket hang up')), true);
  assert.equal(isRetryableFailure('thrown string'), true);
});

test('error codes are the registered ones: ContractsErrorCodes and every map added to AgentbusErrorCodeMaps', () => {
  const code: AgentbusErrorCode = ContractsErrorCodes.invalidData;
  assert.equal(new AgentbusError(code, 'x').code, 'invalid-data');
  // @ts-expect-error a code in no registered map does not compile (the type check fails if it ever does)
  const unregistered: AgentbusErrorCode = 'no-such-code-anywhere';
  assert.equal(typeof unregistered, 'string');
});
