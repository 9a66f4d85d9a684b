import { readFileSync } from 'node:fs';
import type { ParseArgsConfig } from 'node:util';
import type { NatsConnection } from '@nats-io/transport-node';
import { AgentbusError } from '@agentbus/contracts';
import type { CliConfig } from './config.ts';

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
  /** Connects to NATS_URL, or to the embedded server (starting it if needed). Closed on exit. */
  nats(): Promise<NatsConnection>;
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
  /** Returns the exit code (0 when omitted). */
  run(ctx: CommandContext, args: ParsedArgs): Promise<number | void>;
}

/** Bad command line: exit code 2 and the usage. */
export class UsageError extends AgentbusError {
  constructor(message: string, hint?: string) {
    super('usage', message, { hint });
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

/**
 * Parses a --data style JSON argument: the JSON itself, `@path` for a file, or `-` for stdin
 * (command lines are limited to about 128 KiB per argument). Errors name the flag and the
 * position of a syntax error.
 */
export function parseJsonOption(value: string, name: string): unknown {
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
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${name} is not valid JSON: ${(error as Error).message}`, `quote it for the shell, e.g. ${name} '{"service":"api"}', or pass a file with ${name} @file.json`);
  }
}
