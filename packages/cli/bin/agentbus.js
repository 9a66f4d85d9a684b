#!/usr/bin/env node
// The agentbus command. The sources are TypeScript, loaded through tsx (one runtime, no build step).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));
