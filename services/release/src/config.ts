import { z } from 'zod';

/** The release agent's settings (environment variables), validated with the runtime's. */
export const releaseSettings = {
  /** Releases run at once (each waits on the bus most of the time); releases of the same services are serialized by their leases. */
  RELEASE_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(8),
  /** How long a release waits for the leases of its services (another release, deploy or rollback of one of them). */
  RELEASE_LEASE_WAIT_MS: z.coerce.number().int().min(0).default(15 * 60_000),
};
