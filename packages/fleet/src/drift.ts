import { createHash } from 'node:crypto';
import { shortSha, type DriftKind, type ReleaseManifest } from '@agentbus/contracts';
import type { DriftFacts } from '@agentbus/git';
import type { FleetService } from './fleet-schema.ts';
import { openServiceRepo } from './service-repo.ts';

/** One drift of one service: what kind, said for a human, and the evidence. */
export interface DriftFinding {
  service: string;
  kind: DriftKind;
  summary: string;
  evidence: Record<string, unknown>;
  /** A digest of the evidence: the same drift found again has the same one (told once). */
  evidenceKey: string;
}

const SHOWN = 10;
/** Evidence keeps this many paths or commits (and their count): a clone with thousands of stray files is one bounded event. */
const KEPT = 100;
const kept = <T>(items: readonly T[]) => items.slice(0, KEPT);
const listed = (items: readonly string[]) => `${items.slice(0, SHOWN).join(', ')}${items.length > SHOWN ? ` and ${items.length - SHOWN} more` : ''}`;
const digest = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);

/**
 * The drifts of a clone, judged from its facts (GitRepo.driftFacts, after a fetch) and the
 * release manifest (what agentbus last deployed there; none: the commit checks are skipped).
 * Pure: the scan, the CLI and the tests share it.
 */
export function judgeDrift(service: string, facts: DriftFacts, manifest: ReleaseManifest | undefined): DriftFinding[] {
  const findings: Array<Omit<DriftFinding, 'evidenceKey'>> = [];
  if (facts.changed.length) findings.push({ service, kind: 'uncommitted-changes', summary: `${service}: uncommitted changes in its production clone: ${listed(facts.changed)}`, evidence: { paths: kept(facts.changed), count: facts.changed.length } });
  if (facts.untracked.length) findings.push({ service, kind: 'untracked-files', summary: `${service}: files git does not know in its production clone: ${listed(facts.untracked)}`, evidence: { paths: kept(facts.untracked), count: facts.untracked.length } });
  if (facts.localCommits.length) {
    findings.push({
      service,
      kind: 'local-commits',
      summary: `${service}: ${facts.localCommits.length} commit(s) in its production clone that its remote does not have: ${listed(facts.localCommits.map((c) => `${shortSha(c.sha)} by ${c.author}`))}`,
      evidence: { commits: kept(facts.localCommits), count: facts.localCommits.length },
    });
  }
  if (manifest && facts.head !== manifest.commit) {
    findings.push({
      service,
      kind: 'wrong-commit',
      summary: `${service}: ${shortSha(facts.head)} is checked out, but agentbus deployed ${shortSha(manifest.commit)} (deployment ${manifest.deploymentId})`,
      evidence: { checkedOut: facts.head, deployed: manifest.commit, deploymentId: manifest.deploymentId },
    });
  }
  if (facts.foreignCommits.length) {
    findings.push({
      service,
      kind: 'foreign-commits',
      summary: `${service}: ${facts.foreignCommits.length} commit(s) on its remote branch that no agentbus deploy or revert made (the pipeline was bypassed): ${listed(facts.foreignCommits.map((c) => `${shortSha(c.sha)} by ${c.author} ("${c.subject}")`))}`,
      evidence: { commits: kept(facts.foreignCommits), count: facts.foreignCommits.length },
    });
  }
  return findings.map((finding) => ({ ...finding, evidenceKey: digest(finding.evidence) }));
}

/**
 * Scans one service's production clone: fetches, reads its facts, judges them. The newest
 * commit agentbus made on the branch (the manifest's revert, else its merge) is where the search
 * for foreign commits starts.
 */
export async function scanDrift(service: FleetService, manifest: ReleaseManifest | undefined): Promise<DriftFinding[]> {
  const repo = openServiceRepo(service);
  await repo.fetch();
  const since = manifest ? (manifest.revertCommit ?? manifest.mergeCommit) : undefined;
  return judgeDrift(service.name, await repo.driftFacts({ since }), manifest);
}
