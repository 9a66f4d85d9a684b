import { z } from 'zod';

export const healthMonitorSettings = {
  /** How often every service is probed between deploys (its baseline); 0 turns watching off. */
  HEALTH_WATCH_INTERVAL_MS: z.coerce.number().int().min(0).default(30_000),
  /** How often every versioned document is verified (chain-break escalations); 0: one sweep when the sweep timer is started. */
  HEALTH_INTEGRITY_SWEEP_MS: z.coerce.number().int().min(0).default(3_600_000),
  /** How often the bus watchdog looks (heartbeats, consumers, the DLQ; thresholds in the registry's `watchdog`); 0: one look when its timer is started. */
  HEALTH_WATCHDOG_INTERVAL_MS: z.coerce.number().int().min(0).default(15_000),
  /** How often every service's production clone is scanned for drift (changes outside agentbus); 0: one scan when its timer is started. */
  HEALTH_DRIFT_SCAN_MS: z.coerce.number().int().min(0).default(3_600_000),
  /** Deployments judged at once (each waits its stabilization window). */
  HEALTH_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
};
