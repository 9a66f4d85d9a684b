import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson } from '@agentbus/state';

function fromBits(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

test('RFC 8785 appendix B: number serialization samples', () => {
  const samples: Array<[string, string]> = [
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ];
  for (const [bits, expected] of samples) assert.equal(canonicalJson(fromBits(bits)), expected, `bits ${bits}`);
  for (const bits of ['7fffffffffffffff', '7ff0000000000000', 'fff0000000000000']) {
    assert.throws(() => canonicalJson(fromBits(bits)), /not a JSON number/, `NaN/Infinity (${bits}) must be refused`);
  }
});

test('RFC 8785 §3.2.2: the structures example', () => {
  const input = JSON.parse(`{
    "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
    "string": "\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\"\\/",
    "literals": [null, true, false]
  }`);
  assert.equal(canonicalJson(input), `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA'B\\"\\\\\\\\\\"/"}`);
});

test('RFC 8785 §3.2.3: members sorted by UTF-16 code units, astral characters included', () => {
  const input = JSON.parse(`{
    "\\u20ac": "Euro Sign",
    "\\r": "Carriage Return",
    "\\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\\ud83d\\ude00": "Emoji: Grinning Face",
    "\\u0080": "Control",
    "\\u00f6": "Latin Small Letter O With Diaeresis"
  }`);
  const keys = [...canonicalJson(input).matchAll(/"([^"]*)":/g)].map((match) => JSON.parse(`"${match[1]}"`) as string);
  assert.deepEqual(keys, ['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33']);
});

test('cyberphone test data: arrays and French (locale-free) ordering', () => {
  assert.equal(canonicalJson(JSON.parse('[56, {"d": true, "10": null, "1": []}]')), '[56,{"1":[],"10":null,"d":true}]');
  const french = { 'sin': 'ignore locale', 'pêche': 'but canonicalization MUST', 'péché': 'is wrong according to French', 'peach': 'This sorting order' };
  assert.equal(canonicalJson(french), '{"peach":"This sorting order","péché":"is wrong according to French","pêche":"but canonicalization MUST","sin":"ignore locale"}');
});

test('integer-like keys sort as strings, not in the numeric order JS objects list them', () => {
  const value = { '10': 'a', '2': 'b', 'x': { '1': 1, '01': 2 } };
  assert.equal(JSON.stringify(value), '{"2":"b","10":"a","x":{"1":1,"01":2}}');
  assert.equal(canonicalJson(value), '{"10":"a","2":"b","x":{"01":2,"1":1}}');
});

test('refuses what JCS cannot express instead of dropping it', () => {
  assert.throws(() => canonicalJson({ a: undefined }), /undefined is not JSON/);
  assert.throws(() => canonicalJson([1n]), /bigint is not JSON/);
  assert.throws(() => canonicalJson('\ud800'), /lone UTF-16 surrogate/);
  assert.throws(() => canonicalJson(new Date(0)), /Date is not plain JSON/);
});
