import { defineRegistry } from '../registry.ts';
import { taskStarted, taskCompleted, taskFailed } from './lifecycle.ts';
import { deployTask, deployPlanned, deployMerged, deployCompleted, deployFailed } from './deploy.ts';
import { healthPassed, healthFailed } from './health.ts';
import { rollbackStarted, rollbackReverted, rollbackCompleted, rollbackFailed, rollbackSkipped } from './rollback.ts';
import { escalationRaised, escalationResolved } from './escalation.ts';

/** Every message type agentbus itself sends and receives. */
export const agentbusRegistry = defineRegistry([
  taskStarted,
  taskCompleted,
  taskFailed,
  deployTask,
  deployPlanned,
  deployMerged,
  deployCompleted,
  deployFailed,
  healthPassed,
  healthFailed,
  rollbackStarted,
  rollbackReverted,
  rollbackCompleted,
  rollbackFailed,
  rollbackSkipped,
  escalationRaised,
  escalationResolved,
]);

export type AgentbusRegistry = typeof agentbusRegistry;
