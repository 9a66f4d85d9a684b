import { z } from 'zod';

export const postmortemSettings = {
  /** How far back to look for the events of an incident, from the event that triggers a write-up. */
  POSTMORTEM_LOOKBACK_MS: z.coerce.number().int().positive().default(24 * 3_600_000),
};
