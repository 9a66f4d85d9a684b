import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stateEnvSchema } from '@agentbus/state';
import { loadCliConfig } from '../src/config.ts';

test('the CLI reads where state lives with the services\' schema: the same settings, the same Firestore check', () => {
  assert.deepEqual(loadCliConfig({}).state, { backend: 'nats-kv' });
  const firestore = { AGENTBUS_STATE_BACKEND: 'firestore', FIRESTORE_PROJECT_ID: 'p', FIRESTORE_EMULATOR_HOST: '127.0.0.1:8080' };
  assert.deepEqual(loadCliConfig(firestore).state, stateEnvSchema.parse(firestore));
  assert.deepEqual(loadCliConfig(firestore).state, { backend: 'firestore', projectId: 'p', emulatorHost: '127.0.0.1:8080' });
  assert.throws(
    () => loadCliConfig({ AGENTBUS_STATE_BACKEND: 'firestore', FIRESTORE_PROJECT_ID: '' }),
    (error: Error & { code?: string }) => error.code === 'config-invalid' && /^invalid environment: FIRESTORE_PROJECT_ID: required when AGENTBUS_STATE_BACKEND=firestore/.test(error.message),
  );
});
