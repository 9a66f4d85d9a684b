import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { safeLine, safeText } from '@agentbus/contracts';
import { FleetError } from './errors.ts';
import type { DeployCommand } from './fleet-schema.ts';

/** What a deploy command did: enough for a `deploy.failed` event and for timing the platform. */
export interface DeployCommandResult {
  argv: string[];
  cwd: string;
  /** null when killed by a signal. */
  exitCode: number | null;
  signal: string | null;
  /**
   * The end of what it wrote, made safe (safeText: terminal escapes removed, other control
   * characters shown as `\x00`): at most the last KEEP_OUTPUT_CHARS characters of each stream.
   */
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  /** True when output beyond the kept tail was dropped. */
  truncated: boolean;
}

export interface RunDeployCommandOptions {
  /** After SIGTERM at the time-out, how long before SIGKILL. Default 5 000 ms. */
  killGraceMs?: number;
}

const KEEP_OUTPUT_BYTES = 256 * 1024;
/** The most of each stream a result keeps (the end: where a failing command says why). */
export const KEEP_OUTPUT_CHARS = 64 * 1024;
/** The most of the output's last lines an error message quotes. */
const MESSAGE_TAIL_CHARS = 2_000;
/** After the command exits, how long to wait for its output pipes to close (a daemon it started may hold them). */
const OUTPUT_DRAIN_MS = 200;

/**
 * Runs a service's deploy command from the registry: argv without a shell, in `cwd`, with the
 * inherited environment plus `env`, in its own process group. Resolves with the result when it
 * exits 0. Its output is outside text: made safe once, here, before it reaches an error message,
 * an event, a state reason or a git argument. Otherwise rejects with FleetError (the result in `details.result`):
 * `deploy-command-not-found` (program or cwd missing), `deploy-command-failed` (non-zero exit or
 * a signal; the message ends with its stderr), `deploy-command-timeout` (ran past `timeoutMs`:
 * the whole process group got SIGTERM, then SIGKILL). Not retryable: running a deploy twice is
 * the caller's decision. A daemon the command leaves running (detached, as a restart script
 * does) does not hold the result back.
 */
export function runDeployCommand(command: DeployCommand, options: RunDeployCommandOptions = {}): Promise<DeployCommandResult> {
  const argv = [...command.command];
  const [program, ...args] = argv;
  if (!program) return Promise.reject(new FleetError('deploy-command-not-found', 'the deploy command is empty', { hint: 'set deploy.command to an argv array' }));
  if (!existsSync(command.cwd)) {
    return Promise.reject(
      new FleetError('deploy-command-not-found', `the deploy command's working directory ${command.cwd} does not exist`, {
        hint: 'check deploy.cwd and git.path in the fleet configuration',
        details: { argv, cwd: command.cwd },
      }),
    );
  }
  const started = performance.now();
  const stdout = new OutputTail();
  const stderr = new OutputTail();
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      cwd: command.cwd,
      env: { ...process.env, ...command.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      shell: false,
      windowsHide: true,
    });
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const timeoutTimer = setTimeout(() => {
      timedOut = true;
      signalGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), options.killGraceMs ?? 5_000);
    }, command.timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));

    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timeoutTimer);
      const missing = error.code === 'ENOENT';
      reject(
        new FleetError(missing ? 'deploy-command-not-found' : 'deploy-command-failed', `cannot run the deploy command ${safeLine(program, 300)}: ${missing ? 'no such program (it runs without a shell, so give a path or a program on PATH)' : safeLine(error.message)}`, {
          hint: missing ? 'check deploy.command[0]; shell syntax (&&, pipes, $VARS) does not work: put it in a script and run that' : 'check the permissions of the program',
          cause: error,
          details: { argv, cwd: command.cwd },
        }),
      );
    });

    child.once('exit', (exitCode, signal) => {
      clearTimeout(timeoutTimer);
      clearTimeout(killTimer);
      const streamsClosed = Promise.all([child.stdout, child.stderr].map((stream) => new Promise((done) => (stream.closed ? done(null) : stream.once('close', done)))));
      const drained = new Promise((done) => setTimeout(done, OUTPUT_DRAIN_MS).unref());
      void Promise.race([streamsClosed, drained]).then(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        const shown = safeLine(program, 300);
        const result: DeployCommandResult = {
          argv,
          cwd: command.cwd,
          exitCode,
          signal,
          stdout: stdout.text(),
          stderr: stderr.text(),
          durationMs: Math.round(performance.now() - started),
          timedOut,
          truncated: stdout.truncated || stderr.truncated,
        };
        if (timedOut) {
          reject(
            new FleetError('deploy-command-timeout', `the deploy command ${shown} ran longer than ${command.timeoutMs} ms and was killed${tailOf(result.stderr)}`, {
              hint: 'find out what it waits for (its output is in details.result); raise deploy.timeoutMs if it is just slow',
              details: { result },
            }),
          );
        } else if (exitCode !== 0) {
          reject(
            new FleetError('deploy-command-failed', `the deploy command ${shown} ${exitCode === null ? `was killed by ${signal}` : `exited with ${exitCode}`}${tailOf(result.stderr || result.stdout)}`, {
              hint: 'read its output (details.result.stderr); run the same command by hand in the working clone to reproduce',
              details: { result },
            }),
          );
        } else {
          resolve(result);
        }
      });
    });
  });
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

/** The last five lines of (safe) output, at most MESSAGE_TAIL_CHARS, for an error message. */
function tailOf(output: string): string {
  const lines = output.trim().split('\n').slice(-5).join('\n').trim();
  return lines ? `:\n${safeText(lines, { max: MESSAGE_TAIL_CHARS, keep: 'end' })}` : '';
}

/** Keeps the last KEEP_OUTPUT_BYTES of a stream. */
class OutputTail {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > KEEP_OUTPUT_BYTES && this.chunks.length > 1) {
      this.size -= this.chunks.shift()?.length ?? 0;
      this.truncated = true;
    }
  }

  /** The kept end, decoded and made safe (safeText, the end kept). */
  text(): string {
    let all = Buffer.concat(this.chunks);
    if (all.length > KEEP_OUTPUT_BYTES) {
      this.truncated = true;
      all = all.subarray(all.length - KEEP_OUTPUT_BYTES);
    }
    const text = safeText(all.toString('utf8'), { max: KEEP_OUTPUT_CHARS, keep: 'end' });
    if (/^\[\d+ characters cut\] … /.test(text)) this.truncated = true; // safeText's marker: the start was cut
    return text;
  }
}
