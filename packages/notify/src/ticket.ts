import { formatDuration, safeLine } from '@agentbus/contracts';
import type { Postmortem } from '@agentbus/incident';
import { fitText } from './format.ts';

/** Seed 004's ticket fields as the post-mortem has them (deployment SHA, rolled back to, failure reason, failing endpoint, times). */
type PostmortemTicketFields = Postmortem['ticket'];

/**
 * A bug ticket as a GitHub "create issue" request (POST /repos/{owner}/{repo}/issues: title,
 * body, labels), with seed 004's fields. The post-mortem writer fills TicketFacts from its
 * post-mortem; a null is a fact it does not have, written "n/a".
 */
export interface TicketFacts extends PostmortemTicketFields {
  incidentId: string;
  service: string;
  title: string;
  /** The versioned document of the post-mortem (`postmortems/<incident id>`). */
  postmortemPath: string;
  summary?: string;
}

export type TicketRequest = { title: string; body: string; labels: string[] };

/**
 * GitHub's limits for issues/create, which it answers 422 to (the @octokit/openapi request schema
 * does not carry them): title 1–256 characters ("title is too long (maximum is 256 characters)"),
 * body at most 65,536 ("body is too long (maximum is 65536 characters)"), a label name at most 50
 * (github/docs#32156), at most 100 labels on an issue (github/docs#161).
 */
export const GITHUB_LIMITS = { title: 256, body: 65_536, labelName: 50, labels: 100 } as const;
/** The summary's share of the body; the table's cells are bounded each, so the body keeps under GitHub's limit. */
const SUMMARY_MAX = 50_000;
const CELL_MAX = 1_000;
const ID_MAX = 300;

const escapeCell = (text: string) => text.replace(/\|/g, '\\|');
const cell = (text: string, max = CELL_MAX) => fitText(text, max, { multiline: false, escape: escapeCell });
const code = (text: string, max = CELL_MAX, escape = escapeCell) => `\`${fitText(text, max, { multiline: false, escape })}\``;
const asIs = (text: string) => text;
const codeOrNa = (text: string | null) => (text ? code(text) : 'n/a');
const textOrNa = (text: string | null) => (text ? cell(text) : 'n/a');
const durationOrNa = (ms: number | null) => (ms === null ? 'n/a' : formatDuration(ms));

/**
 * Labels GitHub takes, in order, each once: a label it would refuse (empty, over 50 characters,
 * not one line of safe text) is left out, and at most 100 are sent. The registry refuses such
 * labels when it is loaded, so this only guards the request.
 */
function ticketLabels(labels: readonly string[]): string[] {
  const fit = labels.filter((label) => label.length >= 1 && label.length <= GITHUB_LIMITS.labelName && safeLine(label) === label);
  return [...new Set(fit)].slice(0, GITHUB_LIMITS.labels);
}

export function ticketRequest(facts: TicketFacts, labels: readonly string[]): TicketRequest {
  const id = facts.postmortemPath.split('/').at(-1) || facts.incidentId;
  const body = [
    ...(facts.summary ? [fitText(facts.summary, SUMMARY_MAX), ''] : []),
    '| | |',
    '|---|---|',
    `| Service | ${cell(facts.service, ID_MAX)} |`,
    `| Deployment SHA | ${codeOrNa(facts.deploymentSha)} |`,
    `| Rolled back to | ${codeOrNa(facts.rolledBackTo)} |`,
    `| Failure reason | ${textOrNa(facts.failureReason)} |`,
    `| Failed endpoint | ${codeOrNa(facts.failingEndpoint)} |`,
    `| Time to detection | ${durationOrNa(facts.timeToDetectMs)} |`,
    `| Time to rollback | ${durationOrNa(facts.timeToRollBackMs)} |`,
    `| Incident | ${code(facts.incidentId, ID_MAX)} |`,
    '',
    `Post-mortem: ${code(facts.postmortemPath, ID_MAX, asIs)} (${code(`agentbus postmortem show ${id}`, ID_MAX, asIs)}).`,
    '',
    '_Filed by agentbus from the incident\'s events on the bus._',
  ].join('\n');
  return {
    title: fitText(facts.title, GITHUB_LIMITS.title, { multiline: false, fallback: `Incident ${fitText(facts.incidentId, 200, { multiline: false })}` }),
    body: fitText(body, GITHUB_LIMITS.body),
    labels: ticketLabels(labels),
  };
}
