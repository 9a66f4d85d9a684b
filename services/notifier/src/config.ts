import { z } from 'zod';

export const notifierSettings = {
  /** Webhook deliveries running at once (the events themselves are handled one at a time, in order). */
  NOTIFIER_DELIVERY_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  /** How far before an update its incident's events are read, for the chat message's wording. */
  NOTIFIER_INCIDENT_LOOKBACK_MS: z.coerce.number().int().min(0).default(2 * 3_600_000),
};
