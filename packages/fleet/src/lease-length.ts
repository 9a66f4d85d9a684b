import type { FleetService } from './fleet-schema.ts';

/** Added to every lease for what the formulas do not count (event publishes, ledger steps, a slow host). */
export const LEASE_MARGIN_MS = 60_000;

/** The git commands a deploy or a rollback runs against the remote at most in a row (fetch, fast-forward, push, verify). */
const GIT_STEPS = 4;

/**
 * How long a rollback holds its service: its git steps, the deploy command, and the wait until
 * healthy, plus the margin. The rollback agent takes it when the deployment's own lease ran out.
 */
export function rollbackLeaseMs(service: FleetService): number {
  return GIT_STEPS * service.git.timeoutMs + service.deploy.timeoutMs + service.rollback.healthyWithinMs + LEASE_MARGIN_MS;
}

/**
 * How long a deployment holds its service: the deploy itself, then (handed over under the same
 * owner, the deployment id) its health verdict and a possible rollback. Nothing else deploys the
 * service meanwhile, so a verdict always judges the version it was asked about.
 */
export function deploymentLeaseMs(service: FleetService): number {
  const { health, deploy, git } = service;
  const probeTimeoutMs = Math.max(...health.checks.map((check) => check.timeoutMs ?? 5_000));
  const verifyMs = health.stabilizationMs + health.probes * (health.probeIntervalMs + probeTimeoutMs);
  return deploy.timeoutMs + GIT_STEPS * git.timeoutMs + verifyMs + rollbackLeaseMs(service);
}

/**
 * How long a release holds each of its services (it takes them all at its start, ends them at
 * its end): every step's deployment (with its verdict and a rollback), its guard window, and one
 * more rollback each (rollbackScope `release` rolls every step back), plus the margin.
 */
export function releaseLeaseMs(steps: ReadonlyArray<{ service: FleetService; guardMs: number }>): number {
  return steps.reduce((total, { service, guardMs }) => total + deploymentLeaseMs(service) + guardMs + rollbackLeaseMs(service), LEASE_MARGIN_MS);
}
