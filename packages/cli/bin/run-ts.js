#!/usr/bin/env node
// Runs a TypeScript file of this repository with tsx: `node packages/cli/bin/run-ts.js file.ts [args…]`.
import { register } from 'tsx/esm/api';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

register();
const [file, ...args] = process.argv.slice(2);
if (!file) {
  console.error('usage: run-ts.js <file.ts> [args…]');
  process.exit(2);
}
process.argv = [process.argv[0], resolve(file), ...args];
await import(pathToFileURL(resolve(file)).href);
