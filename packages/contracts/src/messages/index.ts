import { defineRegistry } from '../registry.ts';
import { taskStarted, taskCompleted, taskFailed } from './lifecycle.ts';
import { deployTask, deployPlanned, deployMerged, deployCompleted, deployFailed } from './deploy.ts';
import { healthPassed, healthFailed, healthInconclusive } from './health.ts';
import { followupTimer, followupScheduled, followupPassed, followupFailed, followupInconclusive, followupCancelled } from './followup.ts';
import { rollbackTask, rollbackStarted, rollbackReverted, rollbackCompleted, rollbackFailed, rollbackSkipped } from './rollback.ts';
import { escalationRaised, escalationResolved } from './escalation.ts';
import { notifierDeliverTask, notificationDelivered, postmortemWritten, healthRecovered } from './incident.ts';
import { healthWatchTimer, integritySweepTimer } from './schedule.ts';
import { watchdogAlert, watchdogResolved, watchdogTimer } from './watchdog.ts';
import { driftDetected, driftResolved, driftScanTimer } from './drift.ts';
import { releaseStartTask, releaseAbortTask, releaseStarted, releasePlanned, releaseStepStarted, releaseStepPassed, releaseChecked, releaseAbortRequested, releaseCompleted } from './release.ts';

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
  healthInconclusive,
  healthRecovered,
  followupScheduled,
  followupPassed,
  followupFailed,
  followupInconclusive,
  followupCancelled,
  rollbackTask,
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
  integritySweepTimer,
  followupTimer,
  releaseStartTask,
  releaseAbortTask,
  releaseStarted,
  releasePlanned,
  releaseStepStarted,
  releaseStepPassed,
  releaseChecked,
  releaseAbortRequested,
  releaseCompleted,
  watchdogAlert,
  watchdogResolved,
  watchdogTimer,
  driftDetected,
  driftResolved,
  driftScanTimer,
]);

export type AgentbusRegistry = typeof agentbusRegistry;
