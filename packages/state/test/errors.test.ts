import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentbusError } from '@agentbus/contracts';
import { isStateConflict, isStateError, isStateNotFound, parseDocumentPath, StateConflictError, StateErrorCodes, StateInputError } from '@agentbus/state';

test('isStateError(error, code?): the errorGuard of every package, narrowing by code when one is named', () => {
  const input = new StateInputError('empty reason', 'give a reason');
  assert.equal(isStateError(input), true);
  assert.equal(isStateError(input, StateErrorCodes.invalidInput), true);
  assert.equal(isStateError(input, StateErrorCodes.conflict), false);
  assert.equal(isStateError(new AgentbusError('invalid-data', 'not from state')), false);
  assert.equal(isStateError(new Error('plain')), false);

  let notFound: unknown;
  try {
    parseDocumentPath('no-slash');
  } catch (error) {
    notFound = error;
  }
  assert.equal(isStateError(notFound, StateErrorCodes.invalidPath), true);
  assert.equal(isStateNotFound(notFound), false);

  const conflict = new StateConflictError('services/api', 3);
  assert.equal(isStateConflict(conflict), true);
  assert.equal(isStateConflict(conflict, StateErrorCodes.conflict), true);
  assert.equal(conflict.retryable, true);
});
