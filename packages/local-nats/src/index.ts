export { findNatsServerBinary, INSTALL_HINT, type NatsServerBinary } from './binary.ts';
export { freePort } from './ports.ts';
export { NatsServer, type NatsServerOptions, type ClusterMembership } from './server.ts';
export { NatsCluster, type NatsClusterOptions } from './cluster.ts';
export { LocalNatsErrorCodes, type LocalNatsErrorCode } from './errors.ts';
