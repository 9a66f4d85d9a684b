import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import {
  sealVersion,
  recomputeHashes,
  parseRecord,
  encodeRecord,
  normalizeData,
  diffData,
  formatChanges,
  Keyring,
  generateSigningKey,
  SignatureStatus,
  StateSigningKeyError,
  type EnvelopeInput,
} from '@agentbus/state';

const input: EnvelopeInput = {
  agent: 'deployer',
  taskId: 'task-1',
  reason: 'first',
  timestamp: '2026-11-03T02:14:03.123456Z',
  writeId: 'w-1',
  operation: 'put',
  restoredFrom: null,
};

test('the hash covers path, data and every envelope field, and ignores member order', () => {
  const data = normalizeData({ replicas: 3, labels: { b: '2', a: '1' } });
  const v1 = sealVersion('services/api', data, input, undefined);
  assert.equal(v1.envelope.number, 1);
  assert.equal(v1.envelope.previousHash, null);
  assert.match(v1.envelope.hash, /^sha256:[0-9a-f]{64}$/);
  const reordered = sealVersion('services/api', normalizeData({ labels: { a: '1', b: '2' }, replicas: 3 }), input, undefined);
  assert.equal(reordered.envelope.hash, v1.envelope.hash, 'same data in another member order hashes the same');

  const variants = [
    sealVersion('services/web', data, input, undefined),
    sealVersion('services/api', normalizeData({ replicas: 4, labels: { a: '1', b: '2' } }), input, undefined),
    ...(['agent', 'reason', 'writeId', 'timestamp'] as const).map((field) => sealVersion('services/api', data, { ...input, [field]: field === 'timestamp' ? '2026-11-03T02:14:03.123457Z' : 'other' }, undefined)),
    sealVersion('services/api', data, { ...input, taskId: null }, undefined),
    sealVersion('services/api', data, { ...input, operation: 'restore', restoredFrom: 1 }, undefined),
  ];
  for (const variant of variants) assert.notEqual(variant.envelope.hash, v1.envelope.hash);

  const v2 = sealVersion('services/api', data, input, v1.envelope);
  assert.equal(v2.envelope.number, 2);
  assert.equal(v2.envelope.previousHash, v1.envelope.hash);
  assert.notEqual(v2.envelope.hash, v1.envelope.hash);
});

test('recomputed hashes tell data changes from envelope changes', () => {
  const record = sealVersion('services/api', normalizeData({ replicas: 3 }), input, undefined);
  assert.deepEqual(recomputeHashes(record), { dataHash: record.envelope.dataHash, hash: record.envelope.hash });
  const dataChanged = { ...record, data: { replicas: 4 } };
  assert.notEqual(recomputeHashes(dataChanged).dataHash, record.envelope.dataHash);
  const envelopeChanged = { ...record, envelope: { ...record.envelope, reason: 'edited' } };
  const recomputed = recomputeHashes(envelopeChanged);
  assert.equal(recomputed.dataHash, record.envelope.dataHash);
  assert.notEqual(recomputed.hash, record.envelope.hash);
});

test('records round-trip through their stored bytes and parse defensively', () => {
  const record = sealVersion('services/api', normalizeData({ at: new Date(5), nested: { list: [1, 'two'] } }), input, undefined);
  const parsed = parseRecord(JSON.parse(encodeRecord(record)));
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.record, record);
  assert.equal(encodeRecord(parsed.record), encodeRecord(record), 'stored bytes are deterministic');

  const broken = JSON.parse(encodeRecord(record));
  assert.deepEqual(parseRecord({ ...broken, envelope: { ...broken.envelope, format: 2 } }), { ok: false, reason: 'unsupported-format', message: 'envelope format 2 is not one this version of agentbus reads (it reads 1)' });
  const noNumber = parseRecord({ ...broken, envelope: { ...broken.envelope, number: 'one' } });
  assert.equal(noNumber.ok, false);
  assert.equal(!noNumber.ok && noNumber.reason, 'unreadable');
  assert.equal(parseRecord('not a record').ok, false);
  assert.equal(parseRecord({ ...broken, data: [1] }).ok, false);
});

test('field-level diff: added, removed, changed, arrays by index, typed values whole', () => {
  const before = normalizeData({ replicas: 3, image: 'api:1', limits: { cpu: '500m' }, ports: [80, 443], at: new Date(0) });
  const after = normalizeData({ replicas: 5, limits: { cpu: '500m', memory: '1Gi' }, ports: [80], at: new Date(1), 'app.kubernetes.io/name': 'api' });
  const changes = diffData(before, after);
  assert.deepEqual(
    changes.map(({ kind, field, pointer }) => `${kind} ${field} ${pointer}`),
    ['added ["app.kubernetes.io/name"] /app.kubernetes.io~1name', 'changed at /at', 'removed image /image', 'added limits.memory /limits/memory', 'removed ports[1] /ports/1', 'changed replicas /replicas'],
  );
  assert.deepEqual(changes.find((change) => change.field === 'replicas'), { kind: 'changed', field: 'replicas', pointer: '/replicas', before: 3, after: 5 });
  assert.deepEqual(formatChanges(changes).slice(-1), ['~ replicas: 3 → 5']);
  assert.deepEqual(diffData(before, before), []);
  assert.deepEqual(formatChanges([]), ['  (no differences in the data)']);
});

test('signatures: signed by the agent key, checked against registered public keys', () => {
  const deployer = generateSigningKey();
  const other = generateSigningKey();
  const writer = new Keyring({ privateKeys: { deployer: deployer.privateKeyPem } });
  const record = sealVersion('services/api', normalizeData({ replicas: 3 }), input, undefined);
  const signature = writer.sign('deployer', record.envelope.hash);
  assert.ok(signature);
  assert.equal(signature.keyId, deployer.keyId);
  assert.equal(writer.sign('someone-else', record.envelope.hash), null, 'no key, no signature (not required)');

  const verifier = new Keyring({ publicKeys: { deployer: [other.publicKeyPem, deployer.publicKeyPem] } });
  assert.equal(verifier.check(record.envelope, signature).status, SignatureStatus.valid);
  assert.equal(verifier.check({ ...record.envelope, hash: `sha256:${'0'.repeat(64)}` }, signature).status, SignatureStatus.invalid);
  assert.equal(verifier.check(record.envelope, null).status, SignatureStatus.unsigned);
  assert.equal(verifier.check({ ...record.envelope, agent: 'rollback' }, null).status, SignatureStatus.none);
  assert.equal(verifier.check({ ...record.envelope, agent: 'rollback' }, signature).status, SignatureStatus.unverifiable);
  const forged = new Keyring({ privateKeys: { deployer: other.privateKeyPem } }).sign('deployer', record.envelope.hash)!;
  const onlyDeployerKey = new Keyring({ publicKeys: { deployer: deployer.publicKeyPem } });
  assert.equal(onlyDeployerKey.check(record.envelope, forged).status, SignatureStatus.invalid);

  const strict = new Keyring({ requireSignatures: true });
  assert.throws(() => strict.sign('deployer', record.envelope.hash), StateSigningKeyError);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
  assert.throws(() => new Keyring({ privateKeys: { deployer: rsa } }), /is rsa, not ed25519/);
  assert.throws(() => new Keyring({ publicKeys: { deployer: 'not a pem' } }), /cannot be read/);
});
