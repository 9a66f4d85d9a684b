export { runService, runServiceMain, defineService, ServiceExitCodes, type ServiceDefinition, type ServiceContext, type ConsumerHandlers, type RunningService, type RunOptions } from './service.ts';
export { loadServiceConfig, runtimeEnvShape, type RuntimeEnv, type ResourceEnvs } from './config.ts';
export { leasesResource, type ServiceResource, type ServiceResources, type OpenedResources, type ResourceContext } from './resource.ts';
