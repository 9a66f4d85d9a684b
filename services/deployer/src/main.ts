import { runServiceMain } from '@agentbus/runtime';
import { deployerService } from './service.ts';

await runServiceMain(deployerService);
