export { main } from './main.ts';
export { loadCliConfig, type CliConfig } from './config.ts';
export { startEmbeddedNats, findAdvertisedNats, type EmbeddedNats } from './embedded.ts';
export type { Command, CommandContext, Output, ParsedArgs } from './command.ts';
