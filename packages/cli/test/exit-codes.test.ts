import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IncidentOutcomes } from '@agentbus/incident';
import { ExitCodes, outcomeExitCode } from '../src/exit-codes.ts';

test('every incident outcome has its exit code, and they are distinct where a script must tell them apart', () => {
  const codes = Object.fromEntries(Object.values(IncidentOutcomes).map((outcome) => [outcome, outcomeExitCode(outcome)]));
  assert.deepEqual(codes, {
    healthy: 0,
    planned: 0,
    'rolled-back': ExitCodes.rolledBack,
    'rollback-skipped': ExitCodes.escalated,
    'deploy-failed': ExitCodes.failed,
    'rollback-failed': ExitCodes.failed,
    inconclusive: ExitCodes.escalated,
    'in-progress': ExitCodes.error,
  });
  assert.equal(new Set([ExitCodes.ok, ExitCodes.error, ExitCodes.usage, ExitCodes.rolledBack, ExitCodes.escalated, ExitCodes.failed]).size, 6);
});
