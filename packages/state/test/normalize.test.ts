import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FieldValue, Timestamp, GeoPoint } from '@google-cloud/firestore';
import { canonicalJson, normalizeData, formatMicros, StateDataError, parseDocumentPath, StatePathError } from '@agentbus/state';

function refuses(value: unknown, field: string, problem: RegExp): void {
  assert.throws(
    () => normalizeData(value),
    (error: unknown) => {
      assert.ok(error instanceof StateDataError, `expected StateDataError, got ${String(error)}`);
      assert.equal(error.code, 'state-invalid-data');
      assert.equal(error.field, field);
      assert.match(error.message, problem);
      assert.ok(error.hint && error.hint.length > 10, 'every data error says what to do');
      return true;
    },
  );
}

test('refuses undefined, NaN, ±Infinity, functions and symbols, naming the field', () => {
  refuses({ a: undefined }, 'data.a', /undefined/);
  refuses({ items: [1, { at: Number.NaN }] }, 'data.items[1].at', /NaN is not a JSON number/);
  refuses({ x: Infinity }, 'data.x', /Infinity/);
  refuses({ x: -Infinity }, 'data.x', /-Infinity/);
  refuses({ f: () => 1 }, 'data.f', /function is not data/);
  refuses({ s: Symbol('x') }, 'data.s', /symbol is not data/);
  refuses({ 'odd key': { deep: undefined } }, 'data["odd key"].deep', /undefined/);
});

test('refuses Firestore sentinels, references and other class instances', () => {
  refuses({ at: FieldValue.serverTimestamp() }, 'data.at', /FieldValue\.serverTimestamp\(\), a server-side sentinel/);
  refuses({ n: FieldValue.increment(1) }, 'data.n', /FieldValue\.increment/);
  refuses({ tags: FieldValue.arrayUnion('a') }, 'data.tags', /FieldValue\.arrayUnion/);
  refuses({ gone: FieldValue.delete() }, 'data.gone', /FieldValue\.delete/);
  refuses({ where: new GeoPoint(1, 2) }, 'data.where', /GeoPoint is not JSON data/);
  refuses({ m: new Map() }, 'data.m', /Map is not JSON data/);
  refuses({ c: new (class Custom {})() }, 'data.c', /Custom is not JSON data/);
});

test('refuses what one backend could not store or read back the same', () => {
  refuses([1], 'data', /must be a JSON object/);
  refuses({ m: [[1, 2]] }, 'data.m[0]', /array directly inside an array/);
  refuses({ '': 1 }, 'data[""]', /empty member name/);
  refuses({ __name__: 1 }, 'data.__name__', /reserves/);
  refuses({ $set: 1 }, 'data["$set"]', /starts with \$/);
  refuses({ a: { $ts: 'yesterday' } }, 'data.a', /not an ISO-8601 time/);
  refuses({ a: { $ts: '2026-02-30T00:00:00Z' } }, 'data.a', /not a valid calendar time/);
  refuses({ s: 'bad \ud800 text' }, 'data.s', /lone UTF-16 surrogate/);
  let deep: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < 20; i++) deep = { d: deep };
  assert.throws(() => normalizeData(deep), /nested deeper than 16 levels/);
});

test('typed values become tags, timestamps truncated to microseconds', () => {
  const normalized = normalizeData({
    date: new Date('2026-11-03T02:14:03.123Z'),
    ts: new Timestamp(1_700_000_000, 123_456_789),
    iso: { $ts: '2026-11-03T04:14:03.1234567+02:00' },
    bytes: new Uint8Array([1, 2, 255]),
    big: 2n ** 64n,
    small: 42n,
    bigText: { $int: '18446744073709551616' },
    negZero: -0,
  });
  assert.deepEqual(normalized, {
    date: { $ts: '2026-11-03T02:14:03.123000Z' },
    ts: { $ts: '2023-11-14T22:13:20.123456Z' },
    iso: { $ts: '2026-11-03T02:14:03.123456Z' },
    bytes: { $bytes: 'AQL/' },
    big: { $int: '18446744073709551616' },
    small: 42,
    bigText: { $int: '18446744073709551616' },
    negZero: 0,
  });
  assert.ok(!Object.is(normalized.negZero, -0));
  assert.equal(formatMicros(-1n), '1969-12-31T23:59:59.999999Z');
});

test('normalization is idempotent and independent of member order', () => {
  const a = normalizeData({ b: 1, a: { y: [1, 'x', null], x: true }, t: new Date(0) });
  const b = normalizeData({ t: { $ts: '1970-01-01T00:00:00Z' }, a: { x: true, y: [1, 'x', null] }, b: 1 });
  assert.equal(canonicalJson(a), canonicalJson(b));
  assert.deepEqual(normalizeData(a), a);
});

test('document paths: <collection>/<id> with KV- and Firestore-safe characters', () => {
  assert.deepEqual(parseDocumentPath('services/api-gateway_2'), { collection: 'services', id: 'api-gateway_2', text: 'services/api-gateway_2' });
  const cases: Array<[unknown, RegExp]> = [
    ['', /empty/],
    ['services', /no \/<id> part/],
    ['a/b/c/d', /nested collections/],
    ['a/', /id is empty/],
    ['a/b.c', /contains "\."/],
    ['a/b c', /contains " "/],
    ['_index/x', /must start with a letter or digit/],
    ['a/' + 'x'.repeat(129), /longer than 128/],
    ['a/*', /contains "\*"/],
  ];
  for (const [path, problem] of cases) {
    assert.throws(() => parseDocumentPath(path), (error: unknown) => error instanceof StatePathError && problem.test(error.message) && error.code === 'state-invalid-path', String(path));
  }
});
