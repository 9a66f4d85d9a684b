import { z } from 'zod';

export const rollbackSettings = {
  ROLLBACK_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  /** How long a rollback waits for a deploy of the same service to release its lease. */
  ROLLBACK_LEASE_WAIT_MS: z.coerce.number().int().min(0).default(15 * 60_000),
};
