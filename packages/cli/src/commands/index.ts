import type { Command } from '../command.ts';

/** Every agentbus command. Each group of commands lives in its own file in this folder. */
export const commands: Command[] = [];
