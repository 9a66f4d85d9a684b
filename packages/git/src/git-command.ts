import { execFile } from 'node:child_process';
import { safeLine, safeText } from '@agentbus/contracts';
import { GitError } from './errors.ts';

export interface RunGitOptions {
  /** Directory git runs in (a working clone, a bare repository, or the parent of a clone target). */
  cwd: string;
  /** Killed after this many ms with GitError `git-timeout`. Default 60 000. */
  timeoutMs?: number;
  /** Added to the inherited environment (after the fixed non-interactive settings below). */
  env?: Record<string, string>;
  /** Whether a non-zero exit is worth retrying (network commands: fetch, ls-remote, push). Default false. */
  retryable?: boolean;
  /** Written to git's standard input (`git patch-id` reads a diff there). */
  input?: string;
}

export interface GitOutput {
  stdout: string;
  stderr: string;
}

export const DEFAULT_GIT_TIMEOUT_MS = 60_000;
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
/** The most of git's stdout and stderr an error keeps in `details` (the end: where git says why). */
const ERROR_OUTPUT_CHARS = 8_000;

/**
 * Runs `git <args>` with execFile: no shell, so nothing in `args` is ever interpreted; callers
 * validate refs (ref-names.ts) and put `--` or `--end-of-options` before anything that could
 * look like an option. Never prompts (GIT_TERMINAL_PROMPT=0, no editor, C locale).
 *
 * Resolves with git's output on exit 0, as git wrote it (it is parsed as data). Rejects with
 * GitError: `invalid-argument` (an argument holds a NUL byte, which no argument can carry: refused
 * before anything runs), `git-not-found`, `git-timeout` (retryable) or `git-failed` carrying exit
 * code, stdout and stderr in `details`. git's output in an error is outside text (a remote's hook
 * writes what it likes): the message and `details` hold it made safe (safeText), its end kept.
 */
export function runGit(args: readonly string[], options: RunGitOptions): Promise<GitOutput> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_GIT_TIMEOUT_MS;
  const withNul = args.findIndex((arg) => arg.includes('\0'));
  if (withNul >= 0) {
    return Promise.reject(
      new GitError('invalid-argument', `${describeArgs(args)}: argument ${withNul + 1} holds a NUL byte, which no git argument can carry; nothing was run`, {
        hint: 'text from outside (command output, a message) must pass safeText before it reaches git; this is a bug in the caller',
        details: { args: redactArgs(args).map((arg) => safeLine(arg, 200)), index: withNul },
      }),
    );
  }
  const env = {
    ...process.env,
    GIT_TERMINAL_PROMPT: '0',
    GIT_EDITOR: 'true',
    GIT_MERGE_AUTOEDIT: 'no',
    LC_ALL: 'C',
    ...options.env,
  };
  return new Promise((resolve, reject) => {
    const child = execFile('git', [...args], { cwd: options.cwd, env, timeout: timeoutMs, maxBuffer: MAX_OUTPUT_BYTES, killSignal: 'SIGKILL', windowsHide: true }, (error, stdout, stderr) => {
      if (!error) {
        resolve({ stdout, stderr });
        return;
      }
      const shown = describeArgs(args);
      const failure = error as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null; code?: number | string | null };
      if (failure.code === 'ENOENT' && !stderr) {
        reject(new GitError('git-not-found', `cannot run git: ${safeLine(failure.message)}`, { hint: 'install git (2.30 or newer) and make sure it is on PATH', cause: error }));
        return;
      }
      stdout = safeText(stdout, { max: ERROR_OUTPUT_CHARS, keep: 'end' });
      stderr = safeText(stderr, { max: ERROR_OUTPUT_CHARS, keep: 'end' });
      if (failure.killed) {
        reject(
          new GitError('git-timeout', `${shown} did not finish within ${timeoutMs} ms and was killed`, {
            hint: 'check that the remote is reachable and answers; raise the git time-out if the repository is large',
            retryable: true,
            cause: error,
            details: { args: redactArgs(args), stdout, stderr, timeoutMs },
          }),
        );
        return;
      }
      const exitCode = typeof failure.code === 'number' ? failure.code : null;
      reject(
        new GitError('git-failed', `${shown} failed (exit ${exitCode ?? failure.signal ?? '?'}): ${safeText(lastLines(stderr) || lastLines(stdout) || 'no output', { multiline: false, max: 2_000, keep: 'end' })}`, {
          hint: 'read git\'s message above; run the same command in the working clone to see more',
          retryable: options.retryable ?? false,
          cause: error,
          details: { args: redactArgs(args), exitCode, stdout, stderr },
        }),
      );
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** The last few non-empty lines of git's output, on one line: where git states the reason (so a bound keeps the end). */
export function lastLines(text: string, count = 4): string {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .slice(-count)
    .join(' | ');
}

function describeArgs(args: readonly string[]): string {
  const subcommand = args.find((arg) => !arg.startsWith('-') && !arg.includes('=')) ?? '';
  return `git ${safeLine(subcommand, 100)}`.trim();
}

/** Hides credentials in URLs (https://user:token@host) before args reach an error or a log. */
function redactArgs(args: readonly string[]): string[] {
  return args.map((arg) => arg.replace(/(\w+:\/\/)[^/@\s]+@/g, '$1***@'));
}
