import { runServiceMain } from '@agentbus/runtime';
import { healthMonitorService } from './service.ts';

await runServiceMain(healthMonitorService);
