export { AgentbusError, ContractsErrorCodes, type AgentbusErrorCode, type AgentbusErrorCodeMaps, errorGuard, isAgentbusError, isRetryableFailure, describeError, type AgentbusErrorOptions } from './errors.ts';
export { safeText, safeLine, cutToLength, ellipsize, DEFAULT_SAFE_TEXT_MAX, type SafeTextOptions } from './safe-text.ts';
export { shortSha, formatDuration, SHORT_SHA_LENGTH } from './display.ts';
export { envelopeSchema, wrapEnvelope, newMessageId, type Envelope, type EnvelopeMeta } from './envelope.ts';
export {
  defineMessage,
  defineRegistry,
  getDefinition,
  validateData,
  assertMessageData,
  createEnvelope,
  parseEnvelope,
  decodeEnvelope,
  formatIssues,
  MessageValidationError,
  isMessageValidationError,
  MessageKinds,
  subjectOf,
  belongsOn,
  type MessageKind,
  type MessageDefinition,
  type Registry,
  type MessageTypeOf,
  type DataInput,
  type DataOf,
  type EnvelopeOf,
  type AnyEnvelopeOf,
} from './registry.ts';
export { StreamNames, StreamSubjects, taskSubject, eventSubject, dlqSubject, scheduleSubject, streamForSubject, type StreamName } from './subjects.ts';
export { agentbusRegistry, type AgentbusRegistry } from './messages/index.ts';
export { serviceName, gitRef, commitSha, isoTime, outsideText, outsideLine } from './messages/fields.ts';
export { jsonDataProblem, MAX_MESSAGE_DEPTH, MAX_MESSAGE_VALUES, type JsonDataProblem } from './json-data.ts';
export { DeployStages, deploymentLeaseOwner, releaseContext, type ReleaseContext } from './messages/deploy.ts';
export { ReleaseStatuses, ReleaseStepStatuses, RollbackScopes, releaseStepSchema, MAX_GUARD_MS, MAX_RELEASE_STEPS, type ReleaseStatus, type ReleaseStepStatus, type RollbackScope } from './messages/release.ts';
export {
  checkResultSchema,
  baselineSchema,
  EvidenceKinds,
  metricResultSchema,
  metricBaselineSchema,
  seriesLabelsSchema,
  MetricOutcomes,
  type CheckResult,
  type Baseline,
  type MetricResult,
  type MetricBaseline,
  type MetricOutcome,
} from './messages/health.ts';
export { FollowupStatuses, followupLabel, followupSubject, type FollowupStatus } from './messages/followup.ts';
export { RollbackStrategies, RollbackSkipReasons } from './messages/rollback.ts';
export {
  EscalationKinds,
  EscalationSeverities,
  ESCALATION_SUMMARY_MAX,
  ESCALATION_KEY_MAX,
  escalation,
  escalationKey,
  type EscalationKind,
  type EscalationSeverity,
  type EscalationInput,
  type Escalation,
} from './messages/escalation.ts';
export { NotificationChannels } from './messages/incident.ts';
export { WatchdogConditions, type WatchdogCondition } from './messages/watchdog.ts';
export { DriftKinds, type DriftKind } from './messages/drift.ts';
export { releaseManifestSchema, releaseManifestPath, postmortemPath, quarantineSchema, quarantinePath, releaseRunSchema, releaseRunPath, RELEASE_RUNS, type ReleaseManifest, type Quarantine, type ReleaseRun } from './documents.ts';
