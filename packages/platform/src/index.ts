export { PlatformErrorCodes, type PlatformErrorCode } from './errors.ts';
export { serviceNames, isServiceName, startServicesInProcess, stopServices, type ServiceName, type InProcessOptions } from './services.ts';
export { Supervisor, SupervisedService, RestartPolicies, launcherGone, type RestartPolicy, type SupervisorEvent, type SupervisorOptions } from './supervisor.ts';
export { prepareUp, type UpRegistry } from './up.ts';
export { requestDeploy, deployAndFollow, assertFollowEnded, type DeployTask, type DeployRequest, type DeployRun } from './follow.ts';
export { runSeed000Demo, runSeed000DemoOnOwnNats, type DemoOptions, type OwnNatsDemoOptions, type DemoResult } from './demo.ts';
export { requestRelease, releaseAndFollow, type ReleaseSpec, type ReleaseRequest, type ReleaseRun, type ReleaseEnd } from './release.ts';
