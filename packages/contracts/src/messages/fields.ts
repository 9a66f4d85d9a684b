import { z } from 'zod';

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
