export { runService, runServiceMain, defineService, ServiceExitCodes, type ServiceDefinition, type ServiceContext, type ConsumerHandlers, type RunningService, type RunOptions } from './service.ts';
export { loadServiceConfig, runtimeEnvShape, stateEnvShape, fleetEnvShape, type RuntimeEnv } from './config.ts';
export { openStateStore, type StateSettings } from './state.ts';
