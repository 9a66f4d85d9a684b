export { main } from './main.ts';
export { loadCliConfig, type CliConfig } from './config.ts';
export { startEmbeddedNats, findAdvertisedNats, type EmbeddedNats } from './embedded.ts';
export type { Command, CommandContext, Output, ParsedArgs } from './command.ts';
export { allServices, serviceNames, startServicesInProcess, stopServices, deployAndFollow, type ServiceName, type DeployRun } from './loop.ts';
export { runSeed000Demo, type DemoOptions, type DemoResult } from './demo.ts';
