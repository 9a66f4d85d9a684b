import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InexactNumberError, parseExactJson } from '../src/exact-json.ts';

const inexact = (text: string, options = {}) => {
  try {
    parseExactJson(text, options);
  } catch (error) {
    assert.ok(error instanceof InexactNumberError, String(error));
    return error;
  }
  assert.fail(`${text} was accepted`);
};

test('exact JSON: what JSON.parse keeps exactly is parsed as JSON.parse parses it', () => {
  const texts = [
    '{"a":1,"b":[true,false,null],"c":"x\\u00e9\\n\\"","d":{"e":-0.5,"f":1e21,"g":1.5e-7,"h":0.1,"i":-0,"j":100,"k":2.50}}',
    '[]', '{}', '"s"', '42', ' \t\n{ "a" : [ 1 , { } , [ ] ] }\r\n', '{"__proto__":{"x":1},"a":1,"a":2,"2":0,"1":0}',
    '{"big":9007199254740991,"neg":-9007199254740991,"pow":9007199254740992,"exp":1E+2,"z":0e10}',
  ];
  for (const text of texts) assert.deepEqual(parseExactJson(text), JSON.parse(text), text);
  const proto = parseExactJson('{"__proto__":{"x":1}}') as Record<string, unknown>;
  assert.ok(Object.hasOwn(proto, '__proto__'), '__proto__ is an own member, as with JSON.parse');
  assert.equal(Object.getPrototypeOf(proto), Object.prototype);

  // Long strings and runs of backslashes before a quote (a regular expression would recurse on 4 MB).
  const long = JSON.stringify({ n: 1, s: 'x1'.repeat(2_000_000), q: 'a\\"b\\', r: '\\\\"' });
  assert.deepEqual(parseExactJson(long), JSON.parse(long));

  // 5,000 levels cost no stack (assert.deepEqual would recurse: walk it instead).
  let value = (parseExactJson(`{"deep":${'['.repeat(5000)}1${']'.repeat(5000)}}`) as { deep: unknown }).deep;
  let depth = 0;
  while (Array.isArray(value)) {
    assert.equal(value.length, 1);
    [value] = value;
    depth++;
  }
  assert.deepEqual([depth, value], [5000, 1]);
});

test('exact JSON: an integer beyond 2^53 is refused naming the field, or kept exactly as a bigint when asked', () => {
  const error = inexact('{"items":[{"n":9007199254740993}]}');
  assert.equal(error.field, 'data.items[0].n');
  assert.equal(error.literal, '9007199254740993');
  assert.equal(error.nearest, '9007199254740992');
  assert.deepEqual(parseExactJson('{"n":9007199254740993,"m":-123456789012345678901234567890,"s":5}', { bigIntegers: true }), { n: 9007199254740993n, m: -123456789012345678901234567890n, s: 5 });
  assert.deepEqual(parseExactJson('{"n":9007199254740992}', { bigIntegers: true }), { n: 9007199254740992n }, 'beyond ±(2^53−1): a bigint, as the state store tags it');
  assert.equal(inexact('{"a b":{"c.d":[0,12345678901234567890]}}').field, 'data["a b"]["c.d"][1]');
  assert.equal(inexact('[1,2,99999999999999999]').field, 'data[2]');
});

test('exact JSON: a fraction or an exponent a double cannot hold is refused, even with bigints allowed', () => {
  for (const literal of ['0.1000000000000000000001', '9007199254740993.0', '1e400', '-1e400', '1e-400', '3.141592653589793238462643383279', '9.007199254740993e15']) {
    const error = inexact(`{"x":${literal}}`, { bigIntegers: true });
    assert.equal(error.field, 'data.x');
    assert.equal(error.literal, literal);
  }
  assert.equal(inexact('{"x":1e400}').nearest, 'Infinity');
  assert.equal(inexact('{"x":0.1000000000000000000001}').nearest, '0.1');
});

test('exact JSON: not JSON is the SyntaxError JSON.parse gives', () => {
  assert.throws(() => parseExactJson('{service: api}'), SyntaxError);
  assert.throws(() => parseExactJson('{"a":1} x'), SyntaxError);
  assert.throws(() => parseExactJson(''), SyntaxError);
});
