import { z } from 'zod';

export const healthMonitorSettings = {
  /** How often every service is probed between deploys (its baseline); 0 turns watching off. */
  HEALTH_WATCH_INTERVAL_MS: z.coerce.number().int().min(0).default(30_000),
  /** Deployments judged at once (each waits its stabilization window). */
  HEALTH_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
};
