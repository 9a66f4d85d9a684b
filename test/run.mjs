#!/usr/bin/env node
// Runs every test of the repository: the linter, a type check, then each *.test.ts file under
// packages/, streams/, services/ and test/ with node:test (TypeScript through tsx).
// Arguments narrow the set: `npm test -- bus` runs the files whose path contains "bus";
// `npm test -- --tier unit|int|e2e` runs one tier (several --tier flags add up):
//   unit  *.test.ts outside test/e2e: no server, no child process (the test kit refuses to start one)
//   int   *.int.test.ts: a real nats-server, the Firestore emulator, git or an HTTP service
//   e2e   test/e2e/: the whole loop
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { availableParallelism } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const Tiers = ['unit', 'int', 'e2e'];
const args = process.argv.slice(2);
const tiers = [];
const filters = [];
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === '--tier' || arg.startsWith('--tier=')) {
    const tier = arg === '--tier' ? args[++i] : arg.slice('--tier='.length);
    if (!Tiers.includes(tier)) {
      console.error(`--tier takes one of ${Tiers.join(', ')}; got ${tier === undefined ? 'nothing' : JSON.stringify(tier)}`);
      process.exit(2);
    }
    tiers.push(tier);
  } else if (arg.startsWith('-')) {
    console.error(`unknown option ${arg}: use --tier unit|int|e2e and path substrings`);
    process.exit(2);
  } else filters.push(arg);
}

/** The tier of a test file, by its name and place. */
function tierOf(file) {
  if (relative(root, file).startsWith(`test${sep}e2e${sep}`)) return 'e2e';
  return file.endsWith('.int.test.ts') ? 'int' : 'unit';
}

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
  .filter((file) => tiers.length === 0 || tiers.includes(tierOf(file)))
  // The longest first (e2e, then int, then unit), two at a time: the many short files fill the
  // gaps at the end instead of two long end-to-end files running last on their own.
  .sort((a, b) => Tiers.indexOf(tierOf(b)) - Tiers.indexOf(tierOf(a)) || a.localeCompare(b));

if (filters.length === 0 && tiers.length === 0) {
  console.log('lint (eslint)…');
  const lint = spawnSync(process.execPath, [join(root, 'node_modules/eslint/bin/eslint.js'), '--max-warnings', '0', root], { stdio: 'inherit', cwd: root });
  if (lint.status !== 0) {
    console.error('eslint found problems (above): fix them, or run `npx eslint --fix .` for the formatting ones');
    process.exit(lint.status ?? 1);
  }
}
if (filters.length === 0) {
  console.log('type check (tsc)…');
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
}

if (files.length === 0) {
  console.error(`no test files match ${[...filters, ...tiers.map((t) => `--tier ${t}`)].join(' ')}`);
  process.exit(1);
}
// Three at a time on 2 cores: most of an end-to-end file's time is waiting (stabilization
// windows, timers, restarts); two at a time kept the 2 cores 67 % busy and took 7.5 min, three 6 min.
const concurrency = Math.max(3, availableParallelism());
console.log(`running ${files.length} test files${tiers.length ? ` (tier ${tiers.join(', ')})` : ''}, ${concurrency} at a time`);
// The test files run in processes of their own: a port one of them was handed (a demo service's,
// free while it restarts on it) must not be handed to another. freePort reserves each port it
// hands out as a file in this folder, for the whole run.
const portReservations = mkdtempSync(join(tmpdir(), 'agentbus-ports-'));
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=180000', '--test-reporter=spec', ...files.map((f) => relative(root, f))],
  {
    stdio: 'inherit',
    cwd: root,
    // AGENTBUS_TEST_TIER=unit makes the test kit refuse servers and child processes: a unit test that needs one is in the wrong tier.
    env: { ...process.env, FORCE_COLOR: process.stdout.isTTY ? '1' : '0', AGENTBUS_TEST_TIER: tiers.length === 1 && tiers[0] === 'unit' ? 'unit' : '', AGENTBUS_PORT_RESERVATIONS: portReservations },
  },
);
rmSync(portReservations, { recursive: true, force: true });
process.exit(result.status ?? 1);
