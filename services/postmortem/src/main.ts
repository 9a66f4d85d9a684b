import { runServiceMain } from '@agentbus/runtime';
import { postmortemService } from './service.ts';

await runServiceMain(postmortemService);
