export { FleetError, FleetErrorCodes, isFleetError, type FleetErrorCode } from './errors.ts';
export {
  fleetConfigSchema,
  serviceSchema,
  gitSectionSchema,
  deployCommandSchema,
  healthSectionSchema,
  rollbackSectionSchema,
  secretSchema,
  pagerDutyRoutingKeyProblem,
  notificationsSectionSchema,
  escalationSectionSchema,
  watchdogSectionSchema,
  postmortemsSectionSchema,
  type Secret,
  RollbackStrategies,
  type RollbackStrategy,
  type FleetConfig,
  type FleetConfigInput,
  type FleetService,
  type FleetServiceInput,
  type DeployCommand,
  type DeployCommandInput,
} from './fleet-schema.ts';
export { parseFleetConfig, loadFleetConfig, locateRegistry, fleetEnvSchema, fleetResource, findService, resolveSecret, type FleetConfigOptions, type FleetConfigSchema, type LoadedFleetConfig } from './fleet-config.ts';
export { formatFieldPath, type ConfigProblem } from './config-issues.ts';
export { runDeployCommand, type DeployCommandResult, type RunDeployCommandOptions } from './deploy-command.ts';
export { openServiceRepo, syncCloneToRemote, pushAndVerify, pushStageOf, type PushStage } from './service-repo.ts';
export { deploymentLeaseMs, rollbackLeaseMs, releaseLeaseMs, LEASE_MARGIN_MS } from './lease-length.ts';
export { judgeService, failingSummary, type Judgment, type VerdictOutcome } from './judge.ts';
export { judgeDrift, scanDrift, type DriftFinding } from './drift.ts';
