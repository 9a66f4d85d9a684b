import { followupLabel, formatDuration } from '@agentbus/contracts';
import type { FleetService } from '@agentbus/fleet';
import type { IncidentEvent } from '@agentbus/incident';
import type { PlannedStep } from './progress.ts';

type DeployPlan = Extract<IncidentEvent, { type: 'deploy.planned' | 'deploy.failed' }>;

interface Planned {
  steps: readonly PlannedStep[];
  services: ReadonlyMap<string, FleetService>;
  spec: { rollbackScope: 'service' | 'release'; alsoCheck: readonly string[] };
}

function checksOf(service: FleetService): string {
  const http = service.health.checks.filter((c) => c.severity === 'fatal').map((c) => c.name);
  const metrics = service.health.metrics.filter((m) => m.severity === 'fatal').map((m) => m.name);
  return [http.length ? `HTTP checks ${http.join(', ')}` : '', metrics.length ? `metric checks ${metrics.join(', ')}` : ''].filter(Boolean).join(' and ') || 'no fatal checks';
}

function rollbackOf(service: FleetService): string {
  return service.rollback.strategy === 'git-revert' ? `roll ${service.name} back (git revert of its merge, push, verify the remote, redeploy, re-probe until healthy)` : `roll ${service.name} back (redeploy its previous commit, re-probe until healthy)`;
}

/**
 * The lines of a release's dry run: for each step the deployer's own plan of its deploy (or why
 * it would be refused), its verdict, guard window and follow-ups; the final check; and what
 * would be rolled back on each possible failure.
 */
export function planLines(run: Planned, plans: readonly DeployPlan[]): { steps: string[][]; finalCheck: string[]; onFailure: string[] } {
  const steps = run.steps.map((step, index) => {
    const service = run.services.get(step.service)!;
    const plan = plans[index]!;
    const deploy = plan.type === 'deploy.planned' ? plan.data.steps : [`the deploy would fail at ${plan.data.stage}: ${plan.data.error}`];
    const { health } = service;
    const followups = health.followupOffsetsMs.filter((offset) => offset !== step.guardMs);
    return [
      ...deploy,
      `after a ${formatDuration(health.stabilizationMs)} stabilization window, judge ${checksOf(service)} (${health.probes} probes ${health.probeIntervalMs} ms apart)`,
      step.guardMs > 0
        ? `guard window: ${formatDuration(step.guardMs)} after the verdict, judge ${service.name} again (the ${followupLabel(step.guardMs)} check); only then step ${step.n + 1 > run.steps.length ? '(final check)' : step.n + 1}`
        : `no guard window: ${step.n < run.steps.length ? `step ${step.n + 1}` : 'the final check'} right after the verdict`,
      followups.length ? `follow-up checks at ${followups.map(followupLabel).join(', ')} after the verdict` : 'no follow-up checks',
    ];
  });
  const finalCheck = [...run.steps.map((step) => step.service), ...run.spec.alsoCheck];
  const onFailure = run.steps.map((step) => {
    const service = run.services.get(step.service)!;
    const earlier = run.steps.filter((other) => other.n < step.n).reverse();
    const later = run.steps.filter((other) => other.n > step.n);
    const also = run.spec.rollbackScope === 'release' && earlier.length ? `, then ${earlier.map((other) => `step ${other.n} (${other.service})`).join(', ')}, newest first` : '';
    const never = later.length ? `; ${later.map((other) => `step ${other.n} (${other.service})`).join(', ')} never promoted` : '';
    return `if step ${step.n} (${step.service}) fails its verdict or guard window: ${rollbackOf(service)}${also}${never}`;
  });
  const scope = run.spec.rollbackScope === 'release' ? 'every step is rolled back, newest first' : 'only that service is rolled back';
  onFailure.push(
    `if the final check fails on exactly one service of the release: ${scope}`,
    `if the final check fails on several services, on one outside the release (${run.spec.alsoCheck.join(', ') || 'none checked'}), or cannot judge one: nothing is reverted; the release is flagged for manual triage (an escalation)`,
    'if a verdict or guard window cannot be judged, or a failure is not attributed to its deployment: nothing is reverted; triage',
  );
  return { steps, finalCheck, onFailure };
}
