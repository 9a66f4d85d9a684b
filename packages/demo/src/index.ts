export {
  createDemoService,
  DemoBranches,
  type DemoService,
  type DemoServiceOptions,
  type DemoConfigOptions,
} from './demo-service.ts';
export { isRunning } from '../service/process-liveness.mjs';
export { type Traffic, type TrafficOptions, type TrafficTotals } from './traffic.ts';
export { serverSource, ServiceVersions, type ServiceVersion } from './service-source.ts';
export { DemoErrorCodes, type DemoErrorCode } from './errors.ts';
