export {
  agentbusTopology,
  agentbusStreams,
  agentbusConsumers,
  agentbusBuckets,
  consumerDefaults,
  unhandledTypePolicy,
  isTimerConsumer,
  type Topology,
  type TopologyOptions,
  type StreamDefinition,
  type ConsumerDefinition,
  type BucketDefinition,
} from './definitions.ts';
export { applyTopology, reconcile, StreamsErrorCodes, detectReplicas, streamConfig, consumerConfig, ChangeActions, type Reconcilable, type ApplyReport, type Change, type ChangeAction } from './apply.ts';
export {
  serviceIdentities,
  serviceIdentity,
  publishedTypes,
  servicePermissions,
  operatorPermissions,
  adminPermissions,
  agentbusIdentities,
  permissionNeeds,
  authorizationConfig,
  OPERATOR_IDENTITY,
  ADMIN_IDENTITY,
  cliConnectionNames,
  type ServiceIdentity,
  type BucketAccess,
  type Permissions,
  type SubjectPermissions,
} from './identities.ts';
export { writeCredentialFiles, AUTHORIZATION_FILE, type CredentialFiles } from './credentials.ts';
