import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '@agentbus/local-nats';
import { startWebhookReceiver } from '@agentbus/testkit';
import { isWebhookError, postWebhook, WebhookErrorCodes, type WebhookError } from '@agentbus/notify';

const SECRET_PATH = '/services/T000/B000/s3cr3t-webhook-token';

function assertNoSecret(error: WebhookError, ...secrets: string[]): void {
  const visible = JSON.stringify({ message: error.message, hint: error.hint, details: error.details, json: error.toJSON() });
  for (const secret of secrets) assert.ok(!visible.includes(secret), `the error shows ${secret}: ${visible}`);
}

test('postWebhook: a 2xx is delivered: one POST with the JSON body, its headers and the idempotency key', async () => {
  const receiver = await startWebhookReceiver(() => 202);
  try {
    const result = await postWebhook(`${receiver.url}${SECRET_PATH}`, { text: 'hello', n: 1 }, { target: 'chat target "ops"', timeoutMs: 2_000, headers: { 'Idempotency-Key': 'chat.ops.e1', Authorization: 'Bearer tok' } });
    assert.equal(result.status, 202);
    assert.equal(receiver.requests.length, 1);
    const [request] = receiver.requests;
    assert.equal(request!.method, 'POST');
    assert.equal(request!.path, SECRET_PATH);
    assert.equal(request!.headers['content-type'], 'application/json');
    assert.equal(request!.headers['idempotency-key'], 'chat.ops.e1');
    assert.equal(request!.headers.authorization, 'Bearer tok');
    assert.deepEqual(request!.json, { text: 'hello', n: 1 });
  } finally {
    await receiver.close();
  }
});

test('postWebhook: 5xx, 408 and 429 are retryable; other 4xx and redirects are refusals; the answer is quoted without secrets', async () => {
  const statuses = [500, 503, 408, 429, 400, 404, 301];
  const receiver = await startWebhookReceiver((request) => {
    const status = statuses[request.n - 1]!;
    return { status, body: `rejected ${request.path} for key R0UT1NG` };
  });
  try {
    const seen: Array<[number | null, boolean]> = [];
    for (const _ of statuses) {
      const error = await postWebhook(`${receiver.url}${SECRET_PATH}`, { a: 1 }, { target: 'pagerduty', timeoutMs: 2_000, secrets: ['R0UT1NG'] }).then(
        () => assert.fail('a non-2xx answer must throw'),
        (e: unknown) => e,
      );
      assert.ok(isWebhookError(error, WebhookErrorCodes.status), String(error));
      assert.match(error.message, new RegExp(`^pagerduty answered ${error.status}`));
      assert.match(error.message, /rejected \[redacted\] for key \[redacted\]/);
      assertNoSecret(error, SECRET_PATH, 'R0UT1NG', receiver.url);
      seen.push([error.status, error.retryable]);
    }
    assert.deepEqual(seen, [
      [500, true],
      [503, true],
      [408, true],
      [429, true],
      [400, false],
      [404, false],
      [301, false],
    ]);
    assert.equal(receiver.requests.length, statuses.length, 'a redirect is not followed');
  } finally {
    await receiver.close();
  }
});

test('postWebhook: a receiver that never answers is a retryable time-out; a closed port is a retryable connection failure; neither names the URL', async () => {
  const receiver = await startWebhookReceiver(() => 'silent');
  try {
    const timeout = await postWebhook(`${receiver.url}${SECRET_PATH}`, { a: 1 }, { target: 'chat target "ops"', timeoutMs: 300 }).then(
      () => assert.fail('must time out'),
      (e: unknown) => e,
    );
    assert.ok(isWebhookError(timeout, WebhookErrorCodes.timeout), String(timeout));
    assert.equal(timeout.retryable, true);
    assert.equal(timeout.status, null);
    assert.equal(timeout.message, 'chat target "ops" gave no complete answer within 300 ms');
    assert.equal(receiver.requests.length, 1, 'the request did arrive');
    assertNoSecret(timeout, SECRET_PATH, receiver.url);
  } finally {
    await receiver.close();
  }

  const port = await freePort();
  const refused = await postWebhook(`http://127.0.0.1:${port}${SECRET_PATH}`, { a: 1 }, { target: 'ticket', timeoutMs: 2_000 }).then(
    () => assert.fail('must fail'),
    (e: unknown) => e,
  );
  assert.ok(isWebhookError(refused, WebhookErrorCodes.unreachable), String(refused));
  assert.equal(refused.retryable, true);
  assert.equal(refused.message, 'ticket could not be reached (ECONNREFUSED)');
  assertNoSecret(refused, SECRET_PATH, String(port));

  const invalid = await postWebhook(`hooks.example/${SECRET_PATH}`, {}, { target: 'ticket', timeoutMs: 100 }).then(
    () => assert.fail('must fail'),
    (e: unknown) => e,
  );
  assert.ok(isWebhookError(invalid, WebhookErrorCodes.invalidUrl), String(invalid));
  assert.equal(invalid.retryable, false);
  assertNoSecret(invalid, SECRET_PATH);
});
