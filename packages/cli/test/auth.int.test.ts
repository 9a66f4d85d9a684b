import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, startNats, tempDir } from '@agentbus/testkit';

const mode = (path: string) => statSync(path).mode & 0o777;

test('agentbus auth init writes one key per identity (0600 in a 0700 folder, never printed) and the server fragment; a second run keeps the keys', async () => {
  const dir = join(tempDir('agentbus-auth-'), 'keys');
  const first = await runCli(['auth', 'init', '--dir', dir, '--json']);
  assert.equal(first.code, 0, first.stderr);
  const [written] = first.json<{ identities: Array<{ name: string; publicKey: string; seedFile: string; created: boolean }>; authorizationFile: string }>();
  assert.deepEqual(written!.identities.map((i) => i.name), ['deployer', 'health-monitor', 'rollback', 'postmortem', 'notifier', 'release', 'operator', 'admin']);
  assert.ok(written!.identities.every((i) => i.created && /^U[A-Z0-9]{55}$/.test(i.publicKey)));
  assert.equal(mode(dir), 0o700);
  for (const identity of written!.identities) {
    assert.equal(mode(identity.seedFile), 0o600, `${identity.name}'s seed is readable by its owner only`);
    const seed = readFileSync(identity.seedFile, 'utf8').trim();
    assert.match(seed, /^SU/);
    assert.ok(!first.stdout.includes(seed), 'no seed is printed');
  }
  const fragment = readFileSync(written!.authorizationFile, 'utf8');
  assert.equal(fragment.match(/\{ nkey: U/g)?.length, 8);
  for (const identity of written!.identities) assert.ok(!fragment.includes(readFileSync(identity.seedFile, 'utf8').trim()), 'the server holds public keys only');
  assert.doesNotMatch(fragment, /\bSU[A-Z2-7]{56}\b/, 'no user seed at all');

  const second = await runCli(['auth', 'init', '--dir', dir]);
  assert.equal(second.code, 0, second.stderr);
  assert.doesNotMatch(second.stdout, /\(new\)/);
  for (const identity of written!.identities) assert.ok(second.stdout.includes(identity.publicKey), `${identity.name} kept its key`);
});

test('with the fragment included: a client without credentials is refused, the operator cannot create a stream, the admin can', async (t) => {
  const dir = join(tempDir('agentbus-auth-'), 'keys');
  assert.equal((await runCli(['auth', 'init', '--dir', dir])).code, 0);
  const server = await startNats({ includes: [join(dir, 'authorization.conf')] });
  t.after(() => server.stop());

  const anonymous = await runCli(['dlq', 'list'], { env: { NATS_URL: server.url } });
  assert.equal(anonymous.code, 1);
  assert.match(anonymous.stderr, /^agentbus: error: NATS at nats:\/\/127\.0\.0\.1:\d+ refused identity anonymous \(no credentials\): Authorization Violation\nhint: this server requires credentials/);

  const operator = await runCli(['streams', 'apply'], { env: { NATS_URL: server.url, NATS_NKEY_SEED_FILE: join(dir, 'operator.nk') } });
  assert.equal(operator.code, 1);
  assert.match(operator.stderr, /^agentbus: error: NATS refused identity operator permission to publish to "\$JS\.API\.STREAM\.CREATE\.AGENT_TASKS"\nhint: only the admin identity may create or change streams/);

  // With the keys folder, `streams apply` picks the admin's key and every other command the operator's.
  const admin = await runCli(['streams', 'apply'], { env: { NATS_URL: server.url, NATS_CREDENTIALS_DIR: dir } });
  assert.equal(admin.code, 0, admin.stderr);
  const listed = await runCli(['dlq', 'list'], { env: { NATS_URL: server.url, NATS_CREDENTIALS_DIR: dir } });
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /no dead letters/);
  const published = await runCli(['publish', 'deployer.deploy', '--data', '{"service":"api","ref":"main","requestedBy":"me"}'], { env: { NATS_URL: server.url, NATS_CREDENTIALS_DIR: dir } });
  assert.equal(published.code, 0, published.stderr);
});
