import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentbusRegistry, escalation, escalationKey, envelopeSchema, ESCALATION_KEY_MAX, validateData } from '@agentbus/contracts';

test('escalation: dedupKey agentbus.<kind>.<about…>, id escalation.<kind>.<occurrence…>, data valid for escalation.raised', () => {
  const raised = escalation({ kind: 'lease-conflict', severity: 'critical', service: 'primerouter', summary: 'two agents changed primerouter', details: { epoch: 7 }, about: ['primerouter', 7] });
  assert.equal(raised.data.dedupKey, 'agentbus.lease-conflict.primerouter.7');
  assert.equal(raised.id, 'escalation.lease-conflict.primerouter.7');
  assert.deepEqual(validateData(agentbusRegistry, 'escalation.raised', raised.data), { ...raised.data });

  const skip = escalation({ kind: 'unattributed-failure', severity: 'error', service: 'api', summary: 's', details: {}, about: ['dep-1'], occurrence: ['health.failed.dep-1.2'] });
  assert.equal(skip.data.dedupKey, 'agentbus.unattributed-failure.dep-1', 'one page per deployment');
  assert.equal(skip.id, 'escalation.unattributed-failure.health.failed.dep-1.2', 'one raising per failure told');
  assert.equal('service' in escalation({ kind: 'chain-break', severity: 'critical', summary: 's', details: {}, about: ['x'] }).data, false);
});

test('escalation: parts outside the key grammar become _, a long key is cut and hashed, the id is always a valid envelope id', () => {
  assert.equal(escalationKey('chain-break', ['releases/api', 4]), 'agentbus.chain-break.releases_api.4');
  assert.equal(escalationKey('chain-break', ['a b\u202e', '.x.', '']), 'agentbus.chain-break.a_b_._x_._');
  const long = escalation({ kind: 'inconclusive', severity: 'critical', summary: 's', details: {}, about: ['d'.repeat(500)] });
  assert.ok(long.data.dedupKey.length <= ESCALATION_KEY_MAX);
  assert.match(long.data.dedupKey, /^agentbus\.inconclusive\.d+\.[0-9a-f]{64}$/);
  assert.notEqual(long.data.dedupKey, escalation({ kind: 'inconclusive', severity: 'critical', summary: 's', details: {}, about: ['d'.repeat(501)] }).data.dedupKey);
  for (const about of [['d'.repeat(500)], ['...'], ['a/b', 'c d'], [12]]) {
    const { id } = escalation({ kind: 'inconclusive', severity: 'critical', summary: 's', details: {}, about });
    assert.ok(envelopeSchema.shape.id.safeParse(id).success, id);
  }
});

test('escalation: the summary is made safe and cut to 1,024 characters with a marker', () => {
  const raised = escalation({ kind: 'prolonged-unhealthy', severity: 'critical', service: 'api', summary: `\x1b[31mred\x1b[0m ${'x'.repeat(5_000)}`, details: {}, about: ['api', 1] });
  assert.ok(raised.data.summary.length <= 1_024);
  assert.match(raised.data.summary, /^red x+ … \[\d+ characters cut\]$/);
});
