#!/usr/bin/env node
// `node services/postmortem`: runs the service (TypeScript through tsx).
import { register } from 'tsx/esm/api';

register();
await import('./src/main.ts');
