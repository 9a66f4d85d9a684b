#!/usr/bin/env node
// Runs every test of the repository: a type check, then each *.test.ts file under
// packages/, streams/, services/ and test/ with node:test (TypeScript through tsx).
// Arguments narrow the set: `npm test -- bus` runs the files whose path contains "bus".
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { availableParallelism } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));

function walk(dir, out) {
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (entry.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const files = ['packages', 'streams', 'services', 'test']
  .flatMap((dir) => {
    try {
      return walk(join(root, dir), []);
    } catch {
      return [];
    }
  })
  .filter((file) => filters.length === 0 || filters.some((f) => relative(root, file).includes(f)))
  .sort();

if (filters.length === 0) {
  console.log('type check (tsc)…');
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
}

if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
const concurrency = Math.max(2, availableParallelism());
console.log(`running ${files.length} test files, ${concurrency} at a time`);
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=180000', '--test-reporter=spec', ...files.map((f) => relative(root, f))],
  { stdio: 'inherit', cwd: root, env: { ...process.env, FORCE_COLOR: process.stdout.isTTY ? '1' : '0' } },
);
process.exit(result.status ?? 1);
