import { readFileSync } from 'node:fs';
import type { ParseArgsConfig } from 'node:util';
import type { NatsConnection } from '@nats-io/transport-node';
import { AgentbusError } from '@agentbus/contracts';
import { CliErrorCodes } from './errors.ts';
import type { CliConfig } from './config.ts';
import { InexactNumberError, parseExactJson } from './exact-json.ts';

export type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** What a command writes. Human text goes to stdout unless --json; JSON only with --json. */
export interface Output {
  readonly json: boolean;
  /** A line for people (not printed with --json). */
  line(text?: string): void;
  /** A value for scripts (printed as one JSON line, only with --json). */
  data(value: unknown): void;
  /** Progress and warnings: stderr, always. */
  note(text: string): void;
}

export interface CommandContext {
  config: CliConfig;
  out: Output;
  /** Connects to NATS_URL, or to the embedded server (starting it if needed), as the command's identity. Closed on exit. */
  nats(): Promise<NatsConnection>;
  /**
   * The connection variables the services get (after nats()): the embedded server's keys
   * directory when it requires them (each service picks its own key there), else the user's.
   */
  serviceNatsEnv(): Record<string, string | undefined>;
  /** The NATS URL nats() connected to (after nats() resolved). */
  natsUrl(): string | undefined;
  /** Run at exit, after the command, in reverse order. */
  onExit(cleanup: () => Promise<void> | void): void;
  /** Resolves when the user presses Ctrl-C or the process gets SIGTERM (for long-running commands). */
  stopSignal: Promise<NodeJS.Signals>;
}

export interface Command {
  /** Words after `agentbus`, e.g. ['dlq', 'redrive']. */
  path: string[];
  summary: string;
  /** Arguments after the path, e.g. '<seq>|--all [--dry-run]'. */
  usage: string;
  options?: OptionSpecs;
  /** Positional arguments allowed (default 0..0). */
  positionals?: { min: number; max: number };
  /** Who it connects as: the operator (default), or the admin (creates and changes streams). */
  identity?: 'operator' | 'admin';
  /** Returns the exit code (0 when omitted). */
  run(ctx: CommandContext, args: ParsedArgs): Promise<number | void>;
}

/** Bad command line: exit code 2 and the usage. */
export class UsageError extends AgentbusError {
  constructor(message: string, hint?: string) {
    super(CliErrorCodes.usage, message, { hint });
  }
}

export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === 'string' ? value : undefined;
}

export function requireOption(args: ParsedArgs, name: string): string {
  const value = stringOption(args, name);
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

export function booleanOption(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

/** A non-negative integer flag or positional, with an error naming it. */
export function parseInteger(value: string, name: string, min = 0): number {
  if (!/^\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`${name} must be an integer ≥ ${min}, got "${value}"`);
  }
  return Number(value);
}

/** Where parsed JSON goes, which decides what happens to a number a double cannot hold. */
export type JsonDestination =
  /** A message: its numbers are doubles, so such a number is refused. */
  | 'message'
  /** A versioned document: an integer beyond ±(2^53−1) is kept exactly (`{"$int": …}`); other such numbers are refused. */
  | 'document';

/**
 * Parses a --data style JSON argument: the JSON itself, `@path` for a file, or `-` for stdin
 * (command lines are limited to about 128 KiB per argument). Errors name the flag and the
 * position of a syntax error. No number is changed without a word (see parseExactJson): one that
 * cannot be kept exactly where the data goes is refused, naming its field.
 */
export function parseJsonOption(value: string, name: string, destination: JsonDestination): unknown {
  let text = value;
  if (value === '-' || value.startsWith('@')) {
    const source = value === '-' ? 0 : value.slice(1);
    try {
      text = readFileSync(source, 'utf8');
    } catch (error) {
      throw new UsageError(`${name} ${value}: cannot read ${value === '-' ? 'standard input' : source}: ${(error as Error).message}`);
    }
  }
  try {
    return parseExactJson(text, { bigIntegers: destination === 'document' });
  } catch (error) {
    if (error instanceof InexactNumberError) throw inexactNumberError(error, name, destination);
    throw new UsageError(`${name} is not valid JSON: ${(error as Error).message}`, `quote it for the shell, e.g. ${name} '{"service":"api"}', or pass a file with ${name} @file.json`);
  }
}

function inexactNumberError(error: InexactNumberError, name: string, destination: JsonDestination): UsageError {
  const { field, literal, nearest } = error;
  const asString = `${destination === 'message' ? 'send' : 'store'} it as a string ("${literal}")`;
  const hint =
    !Number.isFinite(Number(literal)) ? `it is beyond what a double holds (about ±1.8e308): ${asString}`
    : destination === 'message' && error.integer ? `a message's numbers are doubles, exact up to ±9007199254740991: ${asString}`
    : destination === 'document' && /^-?\d+\.0+$/.test(literal) ? `write the integer without a fraction (${literal.replace(/\.0+$/, '')}): it is kept exactly, as {"$int": …}`
    : `write the number as a double keeps it (${nearest}), or ${asString} to keep every digit`;
  const which = destination === 'message' ? 'a message cannot carry exactly' : 'cannot be stored exactly';
  return new UsageError(`${name}: ${field} is ${literal}, which ${which} (it would become ${nearest})`, hint);
}

/**
 * The words after the command, rewritten so that parseArgs reads them as people mean them:
 *
 * - a string option takes the next word as its value even when that starts with "-"
 *   (`--from-seq -1`, `--ref --upload-pack=x` are `--from-seq=-1`, `--ref=--upload-pack=x`),
 *   so the command says what is wrong with the value instead of "argument is ambiguous";
 * - a word that starts with "-" but cannot be an option (`-1`, `-.5`, `-`) is a positional
 *   argument (`dlq show -1`), in its place among the others;
 * - everything after `--` is positional.
 *
 * Unknown options and a value missing at the end stay for parseArgs to report.
 */
export function disambiguateArgs(args: readonly string[], options: OptionSpecs): string[] {
  const flags: string[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const next = args[i + 1];
      if (!arg.includes('=') && options[arg.slice(2)]?.type === 'string' && next !== undefined) {
        flags.push(`${arg}=${next}`);
        i++;
      } else {
        flags.push(arg);
      }
    } else if (/^-[A-Za-z]/.test(arg)) {
      flags.push(arg);
    } else {
      positionals.push(arg);
    }
  }
  return positionals.length > 0 ? [...flags, '--', ...positionals] : flags;
}
