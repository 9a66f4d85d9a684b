#!/usr/bin/env node
// `node services/release`: runs the service (TypeScript through tsx).
import { register } from 'tsx/esm/api';

register();
await import('./src/main.ts');
