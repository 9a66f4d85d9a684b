import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runService } from '@agentbus/runtime';
import { deployerService } from '@agentbus/deployer';

test('the deployer names every missing setting of its resources at start, the Firestore project id included, before connecting', async () => {
  await assert.rejects(
    runService(deployerService, { env: { AGENTBUS_STATE_BACKEND: 'firestore', DEPLOYER_CONCURRENCY: '0' } }),
    (error: Error & { code?: string; hint?: string; details?: { problems: string[] } }) => {
      assert.equal(error.code, 'config-invalid');
      assert.deepEqual(error.details!.problems.map((problem) => problem.split(':')[0]).sort(), ['AGENTBUS_CONFIG', 'DEPLOYER_CONCURRENCY', 'FIRESTORE_PROJECT_ID', 'NATS_URL']);
      assert.match(error.message, /^deployer: invalid configuration: /);
      assert.match(error.message, /AGENTBUS_CONFIG: required: the path of the service registry file/);
      assert.match(error.message, /FIRESTORE_PROJECT_ID: required when AGENTBUS_STATE_BACKEND=firestore/);
      assert.match(error.hint ?? '', /environment variables/);
      return true;
    },
  );
});
