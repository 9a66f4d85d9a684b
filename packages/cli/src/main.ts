import { parseArgs } from 'node:util';
import type { NatsConnection } from '@nats-io/transport-node';
import { JetStreamApiError } from '@nats-io/jetstream';
import { AgentbusError, describeError, isAgentbusError } from '@agentbus/contracts';
import { connectNats } from '@agentbus/bus';
import { loadCliConfig, type CliConfig } from './config.ts';
import { startEmbeddedNats } from './embedded.ts';
import { UsageError, type Command, type CommandContext, type Output, type ParsedArgs } from './command.ts';
import { commands } from './commands/index.ts';

function findCommand(argv: string[]): { command: Command; rest: string[] } | undefined {
  const words = argv.filter((arg) => !arg.startsWith('-'));
  let best: Command | undefined;
  for (const command of commands) {
    const matches = command.path.every((word, i) => words[i] === word);
    if (matches && (!best || command.path.length > best.path.length)) best = command;
  }
  if (!best) return undefined;
  const rest = [...argv];
  for (const word of best.path) rest.splice(rest.indexOf(word), 1);
  return { command: best, rest };
}

function usageOf(command: Command): string {
  return `agentbus ${command.path.join(' ')}${command.usage ? ` ${command.usage}` : ''} [--json]`;
}

function overview(): string {
  const width = Math.max(...commands.map((c) => c.path.join(' ').length));
  return [
    'agentbus: the operator command of the agentbus event bus',
    '',
    'usage: agentbus <command> [options] [--json]',
    '',
    ...commands.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`),
    '',
    'Every command takes --json (machine-readable output) and --help.',
    'NATS_URL selects the NATS server; without it an embedded nats-server runs under .agentbus/.',
  ].join('\n');
}

function makeOutput(json: boolean): Output {
  return {
    json,
    line: (text = '') => {
      if (!json) process.stdout.write(`${text}\n`);
    },
    data: (value) => {
      if (json) process.stdout.write(`${JSON.stringify(value)}\n`);
    },
    note: (text) => process.stderr.write(`${text}\n`),
  };
}

function reportError(error: unknown, json: boolean, command?: Command): number {
  const usage = error instanceof UsageError;
  const known = isAgentbusError(error) || error instanceof JetStreamApiError;
  const payload = isAgentbusError(error)
    ? error.toJSON()
    : error instanceof JetStreamApiError
      ? { code: `jetstream-${error.code}`, message: `the NATS server refused the request: ${error.message} (JetStream error ${error.code})`, hint: 'check the arguments against the stream and consumer names (`agentbus streams apply --dry-run` lists them)' }
      : { code: 'internal', message: describeError(error), hint: 'this is a bug in agentbus; please report it with the command you ran' };
  if (json) {
    process.stdout.write(`${JSON.stringify({ error: payload })}\n`);
  } else {
    process.stderr.write(`agentbus: error: ${payload.message}\n`);
    if (payload.hint) process.stderr.write(`hint: ${payload.hint}\n`);
    if (usage && command) process.stderr.write(`usage: ${usageOf(command)}\n`);
    if (!known && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  }
  return usage ? 2 : 1;
}

/** Runs one agentbus command line; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const found = findCommand(argv);
  if (!found) {
    if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(`${overview()}\n`);
      return argv.length === 0 ? 2 : 0;
    }
    const words = argv.filter((arg) => !arg.startsWith('-'));
    return reportError(new UsageError(`unknown command "${words.join(' ')}"`, 'run `agentbus --help` for the list of commands'), json);
  }
  const { command, rest } = found;
  let args: ParsedArgs;
  try {
    const parsed = parseArgs({
      args: rest,
      options: { ...command.options, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    args = { values: parsed.values as ParsedArgs['values'], positionals: parsed.positionals };
  } catch (error) {
    return reportError(new UsageError((error as Error).message.split('\n')[0] ?? 'bad arguments'), json, command);
  }
  if (args.values.help) {
    process.stdout.write(`usage: ${usageOf(command)}\n\n${command.summary}\n`);
    return 0;
  }
  const { min, max } = command.positionals ?? { min: 0, max: 0 };
  if (args.positionals.length < min || args.positionals.length > max) {
    return reportError(new UsageError(`expected ${min === max ? min : `${min} to ${max}`} argument(s), got ${args.positionals.length}`), json, command);
  }

  const cleanups: Array<() => Promise<void> | void> = [];
  let connection: NatsConnection | undefined;
  let connectedUrl: string | undefined;
  let config: CliConfig | undefined;
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  try {
    config = loadCliConfig();
    const cfg = config;
    const ctx: CommandContext = {
      config: cfg,
      out: makeOutput(json),
      stopSignal,
      onExit: (cleanup) => cleanups.push(cleanup),
      natsUrl: () => connectedUrl,
      nats: async () => {
        if (connection) return connection;
        let url = cfg.natsUrl;
        if (!url) {
          const embedded = await startEmbeddedNats({ home: cfg.home, binary: cfg.natsServerBinary });
          cleanups.push(() => embedded.release());
          url = embedded.url;
        }
        connection = await connectNats({ servers: url, name: 'agentbus-cli', ...cfg.natsAuth });
        connectedUrl = url;
        const nc = connection;
        cleanups.push(async () => {
          await nc.drain().catch(() => nc.close());
        });
        return connection;
      },
    };
    const code = await command.run(ctx, args);
    return code ?? 0;
  } catch (error) {
    return reportError(error, json, command);
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        process.stderr.write(`agentbus: warning: clean-up failed: ${describeError(error)}\n`);
      }
    }
  }
}

export { AgentbusError };
