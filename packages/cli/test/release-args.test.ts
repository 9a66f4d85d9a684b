import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { releaseSpecFrom } from '../src/commands/release.ts';

// `agentbus release start`'s command line → the release.start task's data, validated before
// anything is sent: each problem named.

const args = (values: Record<string, string | boolean | string[]>) => ({ values, positionals: [] });
const base = { 'requested-by': 'ann' };

test('--step svc=ref in order; --guard-ms for every step; --rollback-scope and --also-check carried', () => {
  assert.deepEqual(releaseSpecFrom(args({ ...base, step: ['api=feature/x', 'web=feature/y'], 'guard-ms': '500', 'rollback-scope': 'release', 'also-check': ['billing'], 'dry-run': true })), {
    steps: [{ service: 'api', ref: 'feature/x', guardMs: 500 }, { service: 'web', ref: 'feature/y', guardMs: 500 }],
    rollbackScope: 'release',
    alsoCheck: ['billing'],
    requestedBy: 'ann',
    dryRun: true,
  });
});

test('a release file: its own guard windows win over its default and over --guard-ms', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'agentbus-release-args-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'release.json');
  writeFileSync(file, JSON.stringify({ steps: [{ service: 'api', ref: 'feature/x', guardMs: 60_000 }, { service: 'web', ref: 'feature/y' }], guardMs: 5_000 }));
  const spec = releaseSpecFrom(args({ ...base, file }));
  assert.deepEqual(spec.steps, [{ service: 'api', ref: 'feature/x', guardMs: 60_000 }, { service: 'web', ref: 'feature/y', guardMs: 5_000 }]);
  assert.deepEqual((releaseSpecFrom(args({ ...base, file, 'guard-ms': '1' })).steps as unknown[])[1], { service: 'web', ref: 'feature/y', guardMs: 1 });
  assert.throws(() => releaseSpecFrom(args({ ...base, file: join(dir, 'missing.json') })), /--file .*missing\.json: cannot read it: ENOENT/);
  writeFileSync(file, '[1]');
  assert.throws(() => releaseSpecFrom(args({ ...base, file })), /a release file is a JSON object/);
});

test('bad command lines are refused, each problem named', () => {
  const rows: Array<[Record<string, string | boolean | string[]>, RegExp]> = [
    [{}, /a release needs at least one step/],
    [{ step: ['api'] }, /--step "api" is not <service>=<ref>/],
    [{ step: ['=x'] }, /--step "=x" is not <service>=<ref>/],
    [{ step: ['api=x'], file: 'r.json' }, /with --file or with --step, not both/],
    [{ step: ['api=x', 'api=y'] }, /steps\.1\.service: api is already step 1/],
    [{ step: ['API=x'] }, /steps\.0\.service: lower-case letters/],
    [{ step: ['api=--upload-pack=x'] }, /steps\.0\.ref: a branch or commit name/],
    [{ step: ['api=x'], 'rollback-scope': 'all' }, /--rollback-scope "all" is not one of service, release/],
    [{ step: ['api=x'], 'guard-ms': '-1' }, /--guard-ms must be an integer/],
    [{ step: ['api=x'], 'also-check': ['api'] }, /alsoCheck\.0: api is a step of the release/],
  ];
  for (const [values, message] of rows) assert.throws(() => releaseSpecFrom(args({ ...base, ...values })), message, JSON.stringify(values));
});
