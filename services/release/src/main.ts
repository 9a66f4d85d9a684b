import { runServiceMain } from '@agentbus/runtime';
import { releaseService } from './service.ts';

await runServiceMain(releaseService);
