import { defineRegistry } from '../registry.ts';
import { taskStarted, taskCompleted, taskFailed } from './lifecycle.ts';
import { deployTask, deployPlanned, deployMerged, deployCompleted, deployFailed } from './deploy.ts';
import { healthPassed, healthFailed } from './health.ts';
import { rollbackStarted, rollbackReverted, rollbackCompleted, rollbackFailed, rollbackSkipped } from './rollback.ts';
import { escalationRaised, escalationResolved } from './escalation.ts';
import { notifierDeliverTask, notificationDelivered, postmortemWritten, healthRecovered } from './incident.ts';
import { healthWatchTimer } from './schedule.ts';

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
  healthRecovered,
  rollbackStarted,
  rollbackReverted,
  rollbackCompleted,
  rollbackFailed,
  rollbackSkipped,
  escalationRaised,
  escalationResolved,
  notifierDeliverTask,
  notificationDelivered,
  postmortemWritten,
  healthWatchTimer,
]);

export type AgentbusRegistry = typeof agentbusRegistry;
