import { parseArgs } from 'node:util';
import type { NatsConnection } from '@nats-io/transport-node';
import { JetStreamApiError } from '@nats-io/jetstream';
import { AgentbusError, describeError, isAgentbusError } from '@agentbus/contracts';
import { connectNats, describePermissionDenied, identityOf, natsAuthFrom } from '@agentbus/bus';
import { ADMIN_IDENTITY, cliConnectionNames, OPERATOR_IDENTITY } from '@agentbus/streams';
import { loadCliConfig, type CliConfig } from './config.ts';
import { startEmbeddedNats } from './embedded.ts';
import { disambiguateArgs, UsageError, type Command, type CommandContext, type Output, type ParsedArgs } from './command.ts';
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

/** The commands of a group: those of more than one word whose first word is `group` (`dlq list`, `dlq show` …). */
function groupCommands(group: string): Command[] {
  return commands.filter((c) => c.path.length > 1 && c.path[0] === group);
}

function groupHelp(group: string, members: readonly Command[]): string {
  const width = Math.max(...members.map((c) => c.path.slice(1).join(' ').length));
  return [
    `usage: agentbus ${group} <command> [options] [--json]`,
    '',
    ...members.map((c) => `  ${c.path.slice(1).join(' ').padEnd(width)}  ${c.summary}`),
    '',
    `Run \`agentbus ${group} <command> --help\` for its arguments.`,
  ].join('\n');
}

/**
 * Standard output as the commands see it. When its reader goes away (`agentbus replay … | head`
 * once head has exited), the next write throws StdoutClosed: the command stops there, its
 * clean-ups run, and agentbus exits quietly (0 for a closed pipe; 1 with a message for any other
 * write error, such as a full disk).
 */
class StdoutClosed extends Error {
  constructor(readonly writeError: NodeJS.ErrnoException) {
    super(`standard output is closed: ${writeError.message}`);
  }
}

let stdoutError: NodeJS.ErrnoException | undefined;
let watchingStdout = false;

function watchStdout(): void {
  if (watchingStdout) return;
  watchingStdout = true;
  // Also after main() returned: the last write's EPIPE arrives a tick later.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    stdoutError ??= error;
  });
}

function writeStdout(text: string): void {
  if (stdoutError) throw new StdoutClosed(stdoutError);
  process.stdout.write(text);
}

/** The exit code once stdout failed: a reader that went away is no failure of the command. */
function stdoutFailure(error: NodeJS.ErrnoException): number {
  if (error.code === 'EPIPE') return 0;
  process.stderr.write(`agentbus: error: cannot write to standard output: ${error.message}\n`);
  return 1;
}

function makeOutput(json: boolean): Output {
  return {
    json,
    line: (text = '') => {
      if (!json) writeStdout(`${text}\n`);
    },
    data: (value) => {
      if (json) writeStdout(`${JSON.stringify(value)}\n`);
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
  if (json && !stdoutError) {
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
  watchStdout();
  try {
    return await runCommandLine(argv);
  } catch (error) {
    if (error instanceof StdoutClosed) return stdoutFailure(error.writeError);
    throw error;
  }
}

async function runCommandLine(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const help = argv.includes('--help') || argv.includes('-h');
  const found = findCommand(argv);
  if (!found) {
    const words = argv.filter((arg) => !arg.startsWith('-'));
    const group = words[0] === undefined ? [] : groupCommands(words[0]);
    if (words.length === 0) {
      const unknown = argv.find((arg) => arg.startsWith('-') && !['--json', '--help', '-h'].includes(arg));
      if (unknown && !help) return reportError(new UsageError(`unknown option '${unknown.split('=')[0]}'`, 'options come after the command: run `agentbus --help` for the list of commands'), json);
      if (json && !help) return reportError(new UsageError('give a command', 'run `agentbus --help` for the list of commands'), json);
      writeStdout(`${overview()}\n`);
      return help ? 0 : 2;
    }
    if (group.length > 0 && words.length === 1) {
      const names = group.map((c) => c.path.slice(1).join(' ')).join(', ');
      if (json && !help) return reportError(new UsageError(`agentbus ${words[0]} needs a command: ${names}`, `\`agentbus ${words[0]} --help\` says what each does`), json);
      writeStdout(`${groupHelp(words[0]!, group)}\n`);
      return help ? 0 : 2;
    }
    if (group.length > 0) {
      return reportError(new UsageError(`unknown command "${words.slice(0, 2).join(' ')}"`, `agentbus ${words[0]} has: ${group.map((c) => c.path.slice(1).join(' ')).join(', ')} (\`agentbus ${words[0]} --help\`)`), json);
    }
    return reportError(new UsageError(`unknown command "${words[0]}"`, 'run `agentbus --help` for the list of commands'), json);
  }
  const { command, rest } = found;
  let args: ParsedArgs;
  try {
    const options = { ...command.options, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;
    const parsed = parseArgs({ args: disambiguateArgs(rest, options), options, allowPositionals: true, strict: true });
    args = { values: parsed.values as ParsedArgs['values'], positionals: parsed.positionals };
  } catch (error) {
    return reportError(new UsageError((error as Error).message.split('\n')[0] ?? 'bad arguments'), json, command);
  }
  if (args.values.help) {
    writeStdout(`usage: ${usageOf(command)}\n\n${command.summary}\n`);
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
  const identity = command.identity ?? OPERATOR_IDENTITY;
  let serviceEnv: Record<string, string | undefined> = {};
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
      serviceNatsEnv: () => serviceEnv,
      nats: async () => {
        if (connection) return connection;
        let url = cfg.natsUrl;
        let natsEnv = cfg.natsEnv;
        if (!url) {
          const embedded = await startEmbeddedNats({ home: cfg.home, binary: cfg.natsServerBinary, auth: cfg.embeddedAuth });
          cleanups.push(() => embedded.release());
          url = embedded.url;
          // The embedded server knows only its own keys: the user's credentials are for NATS_URL.
          natsEnv = { NATS_CREDENTIALS_DIR: embedded.credentialsDir };
          serviceEnv = { NATS_CREDENTIALS_DIR: embedded.credentialsDir, NATS_NKEY_SEED_FILE: undefined, NATS_USER: undefined, NATS_PASSWORD: undefined, NATS_TOKEN: undefined };
        }
        const auth = natsAuthFrom(natsEnv, identity);
        // The inbox prefix follows the identity the credentials are (a seed file named admin.nk is the admin's).
        const name = auth.identity === ADMIN_IDENTITY || auth.identity === OPERATOR_IDENTITY ? cliConnectionNames[auth.identity] : cliConnectionNames[identity];
        connection = await connectNats({ servers: url, name, ...auth });
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
    if (error instanceof StdoutClosed) return stdoutFailure(error.writeError);
    return reportError(describePermissionDenied(error, connection ? identityOf(connection) : identity), json, command);
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
