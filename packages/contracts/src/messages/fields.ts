import { z } from 'zod';
import { safeLine, safeText, type SafeTextOptions } from '../safe-text.ts';

/** Field schemas shared by several message types. */

export const serviceName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, - and _ (a service name from the registry)');

/**
 * A git branch or commit as given in a task. It is passed to git as an argument, so it may not
 * start with "-" (an option) and may only use the characters git allows in a ref name.
 */
export const gitRef = z
  .string()
  .min(1)
  .max(200)
  .regex(/^(?!-)(?!.*\.\.)(?!.*\/\/)[A-Za-z0-9._/-]+(?<![./])$/, 'a branch or commit name: letters, digits, . _ / -, not starting with -');

export const commitSha = z.string().regex(/^[0-9a-f]{40}$/, 'a full 40-character commit sha');

export const isoTime = z.iso.datetime({ offset: true });

/**
 * Free text that comes from outside agentbus or passes through it — a command's output, an error
 * message, an HTTP body, a reason built from them — in a message anyone may publish. Validation
 * makes it safe (safeText: escapes removed, controls escaped visibly, bounded to `max`), on the
 * publisher's side and again on the consumer's (for messages from other clients), so a handler
 * never passes a NUL to git or an escape sequence to a terminal, and a state document or a chat
 * message never refuses it. Accepted as any string: outside text is data, never a failure.
 * Its JSON schema (io "input") is a plain string.
 */
export function outsideText(options: SafeTextOptions & { min?: number } = {}) {
  const { min, ...safe } = options;
  return (min ? z.string().min(min) : z.string()).transform((text) => safeText(text, safe));
}

/** outsideText on one line (line breaks and tabs become spaces), at most `max` characters. */
export function outsideLine(max = 1_000) {
  return z.string().transform((text) => safeLine(text, max));
}
