import { runServiceMain } from '@agentbus/runtime';
import { rollbackService } from './service.ts';

await runServiceMain(rollbackService);
