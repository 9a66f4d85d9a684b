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
