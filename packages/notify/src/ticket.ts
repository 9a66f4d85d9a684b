import type { Postmortem } from '@agentbus/incident';
import { formatDuration, truncate } from './format.ts';

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

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
const codeOrNa = (text: string | null) => (text ? `\`${cell(text)}\`` : 'n/a');
const textOrNa = (text: string | null) => (text ? cell(text) : 'n/a');
const durationOrNa = (ms: number | null) => (ms === null ? 'n/a' : formatDuration(ms));

export function ticketRequest(facts: TicketFacts, labels: readonly string[]): TicketRequest {
  const id = facts.postmortemPath.split('/').at(-1) ?? facts.incidentId;
  const body = [
    ...(facts.summary ? [facts.summary, ''] : []),
    '| | |',
    '|---|---|',
    `| Service | ${cell(facts.service)} |`,
    `| Deployment SHA | ${codeOrNa(facts.deploymentSha)} |`,
    `| Rolled back to | ${codeOrNa(facts.rolledBackTo)} |`,
    `| Failure reason | ${textOrNa(facts.failureReason)} |`,
    `| Failed endpoint | ${codeOrNa(facts.failingEndpoint)} |`,
    `| Time to detection | ${durationOrNa(facts.timeToDetectMs)} |`,
    `| Time to rollback | ${durationOrNa(facts.timeToRollBackMs)} |`,
    `| Incident | \`${cell(facts.incidentId)}\` |`,
    '',
    `Post-mortem: \`${facts.postmortemPath}\` (\`agentbus postmortem show ${id}\`).`,
    '',
    '_Filed by agentbus from the incident\'s events on the bus._',
  ].join('\n');
  return { title: truncate(facts.title, 256), body: truncate(body, 65_000), labels: [...new Set(labels)] };
}
