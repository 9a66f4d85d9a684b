import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAgentbusError } from '@agentbus/contracts';
import { parseFleetConfig } from '@agentbus/fleet';
import { resolveTargets } from '../src/targets.ts';

const KEY = 'e93facc04764012d7bfb002500d5d1a6';
const notifications = (routingKey: unknown) => parseFleetConfig({ services: [], notifications: { pagerduty: { url: 'http://127.0.0.1:9/v2/enqueue', routingKey } } }).notifications;

test('targets: a routing key read from the environment is checked when the notifier resolves its targets; the error names the field and the variable, never the key', () => {
  const pagerduty = resolveTargets(notifications({ env: 'PD_ROUTING_KEY' }), { PD_ROUTING_KEY: KEY }).pagerduty;
  assert.deepEqual(pagerduty?.bodyFor({ event_action: 'resolve', dedup_key: 'k' }), { event_action: 'resolve', dedup_key: 'k', routing_key: KEY });

  for (const [wrong, length] of [
    [`${KEY}\n`, 33],
    ['R0UT1NG', 7],
    [`${KEY.slice(0, 16)} ${KEY.slice(17)}`, 32],
  ] as const) {
    assert.throws(
      () => resolveTargets(notifications({ env: 'PD_ROUTING_KEY' }), { PD_ROUTING_KEY: wrong }),
      (error) => {
        assert.ok(isAgentbusError(error) && error.code === 'config-invalid');
        assert.match(error.message, new RegExp(`notifications\\.pagerduty\\.routingKey: not a PagerDuty routing key: .* this one has ${length} characters.* \\(read from PD_ROUTING_KEY\\)`));
        assert.ok(!JSON.stringify({ message: error.message, hint: error.hint, details: error.details }).includes(wrong.trim()), 'the key is never shown');
        return true;
      },
    );
  }
});

test('targets: a routing key problem is reported together with the others', () => {
  const config = parseFleetConfig({ services: [], notifications: { pagerduty: { url: { env: 'PD_URL' }, routingKey: { env: 'PD_ROUTING_KEY' } }, chat: [{ name: 'ops', url: 'not a url', format: 'slack' }] } }).notifications;
  assert.throws(
    () => resolveTargets(config, { PD_URL: 'ftp://x', PD_ROUTING_KEY: 'short' }),
    (error) => {
      assert.ok(isAgentbusError(error) && error.code === 'config-invalid');
      assert.deepEqual((error.details.problems as string[]).map((p) => p.split(':')[0]), ['notifications.pagerduty.routingKey', 'notifications.pagerduty.url', 'notifications.chat[0].url']);
      return true;
    },
  );
});
