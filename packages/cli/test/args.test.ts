import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from 'node:util';
import { disambiguateArgs, type OptionSpecs } from '../src/command.ts';

const options: OptionSpecs = { 'from-seq': { type: 'string' }, ref: { type: 'string' }, all: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } };
const parse = (args: string[]) => {
  const { values, positionals } = parseArgs({ args: disambiguateArgs(args, options), options, allowPositionals: true, strict: true });
  return { values: { ...values }, positionals };
};

test('a string option takes the next word as its value, even when it starts with "-"', () => {
  assert.deepEqual(parse(['--from-seq', '-1']), { values: { 'from-seq': '-1' }, positionals: [] });
  assert.deepEqual(parse(['--ref', '--upload-pack=x', '--json']), { values: { ref: '--upload-pack=x', json: true }, positionals: [] });
  assert.deepEqual(parse(['--ref', '--json']), { values: { ref: '--json' }, positionals: [] }, 'as --ref=--json: the command judges the value');
  assert.deepEqual(parse(['--ref=-x', '--all']), { values: { ref: '-x', all: true }, positionals: [] });
  assert.deepEqual(parse(['--ref', '']), { values: { ref: '' }, positionals: [] });
});

test('a word like "-1" that no option can be is a positional, in its place among the others', () => {
  assert.deepEqual(parse(['-1']), { values: {}, positionals: ['-1'] });
  assert.deepEqual(parse(['a', '-5', '--json', 'b', '-', '-.5']), { values: { json: true }, positionals: ['a', '-5', 'b', '-', '-.5'] });
  assert.deepEqual(parse(['a', '--', '--all', '-h']), { values: {}, positionals: ['a', '--all', '-h'] }, 'after -- everything is positional');
  assert.deepEqual(parse(['-h', 'x']), { values: { help: true }, positionals: ['x'] });
});

test('what is still wrong stays an error: unknown options, a value missing at the end', () => {
  assert.throws(() => parse(['--colour']), /Unknown option '--colour'/);
  assert.throws(() => parse(['-x']), /Unknown option '-x'/);
  assert.throws(() => parse(['--ref']), /argument missing/);
});
