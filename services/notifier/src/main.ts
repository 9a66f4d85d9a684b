import { runServiceMain } from '@agentbus/runtime';
import { notifierService } from './service.ts';

await runServiceMain(notifierService);
