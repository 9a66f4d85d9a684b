export { runService, runServiceMain, defineService, type ServiceDefinition, type ServiceContext, type ConsumerHandlers, type RunningService, type RunOptions } from './service.ts';
export { loadServiceConfig, runtimeEnvShape, type RuntimeEnv } from './config.ts';
