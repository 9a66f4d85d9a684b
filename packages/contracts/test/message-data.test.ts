import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import {
  agentbusRegistry,
  createEnvelope,
  decodeEnvelope,
  defineMessage,
  defineRegistry,
  jsonDataProblem,
  MAX_MESSAGE_DEPTH,
  MessageValidationError,
  parseEnvelope,
  taskSubject,
  validateData,
} from '@agentbus/contracts';

const anyData = defineMessage({
  type: 'probe.any',
  kind: 'task',
  subject: taskSubject('probe', 'any'),
  description: 'test type with free-form data',
  schema: z.object({ payload: z.unknown() }),
});
const registry = defineRegistry([anyData]);

/** `{ a: { a: … 1 } }` with `levels` objects, built without recursion. */
function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = { a: 1 };
  for (let level = 1; level < levels; level++) value = { a: value };
  return value;
}

test(`data nested deeper than ${MAX_MESSAGE_DEPTH} levels is refused as invalid-data naming the limit, before anything serializes it (5,000 levels do not overflow the stack)`, () => {
  // The payload object is level 2 (data itself is level 1).
  assert.doesNotThrow(() => createEnvelope(registry, 'probe.any', { payload: nested(MAX_MESSAGE_DEPTH - 1) }, { source: 'tester' }));
  for (const levels of [MAX_MESSAGE_DEPTH, 5_000]) {
    assert.throws(
      () => createEnvelope(registry, 'probe.any', { payload: nested(levels) }, { source: 'tester' }),
      (error: unknown) =>
        error instanceof MessageValidationError &&
        error.code === 'invalid-data' &&
        error.message.includes(`nested deeper than ${MAX_MESSAGE_DEPTH} levels`) &&
        /^invalid data for probe\.any: data\.payload\.a\.a\.a … \(\d+ more\) … \.a\.a is nested/.test(error.message) &&
        /at most 32 levels/.test(error.hint ?? ''),
    );
  }
  // The same from the wire: a consumer gets invalid-data, not a RangeError.
  const body = `{"id":"m1","type":"probe.any","source":"foreign","time":"2026-01-01T00:00:00Z","correlationId":"m1","data":{"payload":${'['.repeat(5_000)}${']'.repeat(5_000)}}}`;
  assert.ok(decodeEnvelope(body));
  assert.throws(() => parseEnvelope(registry, body), (error: unknown) => error instanceof MessageValidationError && error.code === 'invalid-data' && /nested deeper than 32 levels/.test(error.message));
});

test('values JSON has no form for are refused, each naming its field; undefined members are left out as JSON does', () => {
  const cyclic: Record<string, unknown> = { name: 'loop' };
  cyclic.self = cyclic;
  const cases: Array<[unknown, RegExp]> = [
    [{ n: 10n }, /data\.payload\.n is a bigint/],
    [{ f: () => 1 }, /data\.payload\.f is a function/],
    [{ s: Symbol('x') }, /data\.payload\.s is a symbol/],
    [{ n: Number.NaN }, /data\.payload\.n NaN is not a JSON number/],
    [{ n: Number.POSITIVE_INFINITY }, /Infinity is not a JSON number/],
    [[1, undefined], /data\.payload\[1\] is undefined in an array/],
    [{ when: new Date(0) }, /data\.payload\.when is a Date, not a plain object/],
    [{ m: new Map() }, /data\.payload\.m is a Map/],
    [{ 'odd key': new Set() }, /data\.payload\["odd key"\] is a Set/],
    [cyclic, /data\.payload\.self refers to an object that contains it/],
  ];
  for (const [payload, expected] of cases) {
    assert.throws(() => validateData(registry, 'probe.any', { payload }), (error: unknown) => error instanceof MessageValidationError && error.code === 'invalid-data' && expected.test(error.message), String(expected));
  }
  assert.equal(jsonDataProblem({ kept: 1, left: undefined, list: [null, { x: [true, 'y', 2.5] }] }), undefined);
  assert.equal(jsonDataProblem(Object.assign(Object.create(null), { plain: 'yes' })), undefined);
  // A shared (not cyclic) object is fine.
  const shared = { x: 1 };
  assert.equal(jsonDataProblem({ a: shared, b: [shared, shared] }), undefined);
});

const noise = `\x1b[31merror:\x1b[0m boom\x00 and\r\nmore\x1b]0;title\x07 \u202egnp.exe `;
/** ANSI colours, an OSC title, NUL, CR LF and a bidi override at both ends of 10 kB of text. */
const hostile = `${noise}${'x'.repeat(10_000)}${noise}`;

/** What a safe, bounded text may not contain. */
function assertSafe(text: string, max: number, where: string): void {
  assert.ok(text.length <= max, `${where}: ${text.length} characters, over ${max}`);
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(text, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/, `${where}: no control characters, escapes or bidi overrides`);
  assert.doesNotMatch(text, /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/, `${where}: no lone surrogates`);
}

test('free-text fields of messages come out safe and bounded, from a publisher and from the wire; the rest of the data is unchanged', () => {
  const base = { deploymentId: 'd1', service: 'api', ref: 'feature/x', branch: 'main', requestedBy: `bot\x00\nname` };
  const check = { name: 'health', url: 'http://127.0.0.1/health', severity: 'fatal', ok: false, probes: 1, failures: 1, maxConsecutiveFailures: 1, failureThreshold: 1, lastStatus: 500, expectedStatus: 200, latencyP95Ms: 1, latencyThresholdMs: null, latenciesMs: [1], error: hostile } as const;
  const sha = 'a'.repeat(40);
  const samples = [
    { type: 'deploy.failed', data: { ...base, stage: 'deploy-command', error: hostile, stderr: hostile, exitCode: 1, pushed: true }, fields: [['error', 8_000], ['stderr', 8_000], ['requestedBy', 200]] },
    { type: 'rollback.started', data: { deploymentId: 'd1', service: 'api', mergeCommit: sha, strategy: 'git-revert', reason: hostile, failingChecks: ['health'] }, fields: [['reason', 8_000]] },
    { type: 'rollback.failed', data: { deploymentId: 'd1', service: 'api', mergeCommit: sha, strategy: 'git-revert', stage: 'revert', error: hostile }, fields: [['error', 8_000]] },
    { type: 'rollback.skipped', data: { deploymentId: 'd1', service: 'api', reason: 'baseline-unhealthy', detail: hostile }, fields: [['detail', 8_000]] },
    { type: 'escalation.raised', data: { dedupKey: 'k', kind: 'rollback-failed', severity: 'critical', summary: hostile, details: {} }, fields: [['summary', 1_024]] },
    { type: 'escalation.resolved', data: { dedupKey: 'k', summary: hostile }, fields: [['summary', 1_024]] },
    { type: 'notifier.deliver', data: { channel: 'chat', target: 'ops', incidentId: 'i', summary: hostile, body: {} }, fields: [['summary', 1_024]] },
    { type: 'task.failed', data: { agent: 'a', taskType: 't', taskId: 'i', attempt: 1, durationMs: 1, error: { code: hostile, message: hostile }, willRetry: false }, fields: [['error.code', 200], ['error.message', 8_000]] },
    { type: 'health.failed', data: { deploymentId: 'd1', service: 'api', phase: 'post-deploy', baseline: { healthy: true, checkedAt: '2026-01-01T00:00:00Z', checks: [check] }, checks: [check], stabilizationMs: 0, startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:00Z', probeTimeoutMs: 0, probeWaitMs: 0 }, fields: [['checks.0.error', 2_000], ['baseline.checks.0.error', 2_000]] },
    { type: 'deployer.deploy', data: { service: 'api', ref: 'feature/x', requestedBy: `bot\x00\x1b[1m\nname` }, fields: [['requestedBy', 200]] },
  ] as const;
  const at = (value: unknown, path: string) => path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], value);
  for (const sample of samples) {
    const published = createEnvelope(agentbusRegistry, sample.type, sample.data as never, { source: 'tester' });
    // A foreign client puts the raw text on the wire; the consumer's validation makes it safe too.
    const received = parseEnvelope(agentbusRegistry, JSON.stringify({ ...published, data: sample.data }));
    for (const [path, max] of sample.fields) {
      for (const [side, envelope] of [['published', published], ['received', received]] as const) {
        const text = at(envelope.data, path) as string;
        assertSafe(text, max, `${sample.type} ${path} (${side})`);
        if (path === 'requestedBy') assert.equal(text, 'bot\\x00 name', 'one line, the NUL visible');
        else assert.ok(text.includes('\\x00'), `${sample.type} ${path}: the NUL is shown, not hidden`);
      }
    }
  }
  const stderr = (createEnvelope(agentbusRegistry, 'deploy.failed', samples[0].data as never, { source: 'tester' }).data as { stderr: string; error: string });
  assert.ok(stderr.stderr.endsWith('x'.repeat(100) + 'error: boom\\x00 and\nmore \\u202egnp.exe '), 'command output keeps its end');
  assert.ok(stderr.error.startsWith('error: boom\\x00 and\nmore \\u202egnp.exe x'), 'an error message keeps its start, escapes removed, controls shown');
  assert.equal(createEnvelope(agentbusRegistry, 'rollback.skipped', { deploymentId: 'd1', service: 'api', reason: 'baseline-unhealthy', detail: 'plain text, kept as it is' }, { source: 't' }).data.detail, 'plain text, kept as it is');
});

test('the JSON schema of a type with free-text fields (io input, as `agentbus types <type>` prints it) is a plain string', () => {
  for (const type of ['deploy.failed', 'escalation.raised', 'task.failed', 'health.failed', 'deployer.deploy'] as const) {
    const schema = z.toJSONSchema(agentbusRegistry[type].schema, { io: 'input', unrepresentable: 'any' }) as { properties: Record<string, { type?: string; minLength?: number; maxLength?: number }> };
    assert.ok(schema.properties, type);
  }
  const failed = z.toJSONSchema(agentbusRegistry['deploy.failed'].schema, { io: 'input', unrepresentable: 'any' }) as { properties: Record<string, { type?: string }> };
  assert.equal(failed.properties.error?.type, 'string');
  assert.equal(failed.properties.stderr?.type, 'string');
  const raised = z.toJSONSchema(agentbusRegistry['escalation.raised'].schema, { io: 'input', unrepresentable: 'any' }) as { properties: Record<string, { type?: string; minLength?: number }> };
  assert.deepEqual(raised.properties.summary, { type: 'string', minLength: 1 });
  const task = z.toJSONSchema(agentbusRegistry['deployer.deploy'].schema, { io: 'input', unrepresentable: 'any' }) as { properties: Record<string, { type?: string; maxLength?: number }> };
  assert.equal(task.properties.requestedBy?.maxLength, 200);
});
