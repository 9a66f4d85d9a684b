import { z } from 'zod';

/** The deployer's settings (environment variables), validated with the runtime's. */
export const deployerSettings = {
  /** Deploys of different services run at once; one service's deploys are serialized by its lease. */
  DEPLOYER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  /** How long a deploy waits for another deploy (or rollback) of the same service to finish. */
  DEPLOYER_LEASE_WAIT_MS: z.coerce.number().int().min(0).default(15 * 60_000),
};
