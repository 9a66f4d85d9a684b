import { defineRegistry } from '../registry.ts';
import { taskStarted, taskCompleted, taskFailed } from './lifecycle.ts';
import { deployTask } from './deploy.ts';

/** Every message type agentbus itself sends and receives. */
export const agentbusRegistry = defineRegistry([taskStarted, taskCompleted, taskFailed, deployTask]);

export type AgentbusRegistry = typeof agentbusRegistry;
