import type { Command } from '../command.ts';
import { up } from './up.ts';
import { demo } from './demo.ts';
import { deploy } from './deploy.ts';
import { streamsApply } from './streams.ts';
import { publish, types } from './publish.ts';
import { replay } from './replay.ts';
import { dlqList, dlqShow, dlqRedrive } from './dlq.ts';
import { stateCommands } from './state.ts';
import { incidents, postmortemShow } from './incidents.ts';
import { followupsList } from './followups.ts';
import { releaseCommands } from './release.ts';
import { authInit } from './auth.ts';
import { lockdownScan } from './lockdown.ts';

/** Every agentbus command. Each group of commands lives in its own file in this folder. */
export const commands: Command[] = [up, demo, deploy, streamsApply, publish, types, replay, dlqList, dlqShow, dlqRedrive, incidents, postmortemShow, followupsList, ...releaseCommands, ...stateCommands, authInit, lockdownScan];
