import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ticketRequest, type TicketFacts } from '@agentbus/notify';
import { INCIDENT, MERGE, REVERT } from './fixtures.ts';

const facts: TicketFacts = {
  incidentId: INCIDENT,
  service: 'primerouter',
  title: 'Deployment rolled back: primerouter health check failed after feature/cache',
  deploymentSha: MERGE,
  rolledBackTo: REVERT,
  failureReason: 'health: status 500, expected 200',
  failingEndpoint: 'GET http://127.0.0.1:9400/health',
  timeToDetectMs: 67_000,
  timeToRollBackMs: 8_000,
  postmortemPath: `postmortems/${INCIDENT}`,
  summary: 'A merge broke /health; agentbus reverted it within 8 s of detection.',
};

test('ticket: a GitHub create-issue request with seed 004\'s fields', () => {
  const ticket = ticketRequest(facts, ['incident', 'agentbus']);
  assert.deepEqual(Object.keys(ticket).sort(), ['body', 'labels', 'title']);
  assert.equal(ticket.title, 'Deployment rolled back: primerouter health check failed after feature/cache');
  assert.deepEqual(ticket.labels, ['incident', 'agentbus']);
  assert.equal(
    ticket.body,
    [
      'A merge broke /health; agentbus reverted it within 8 s of detection.',
      '',
      '| | |',
      '|---|---|',
      '| Service | primerouter |',
      `| Deployment SHA | \`${MERGE}\` |`,
      `| Rolled back to | \`${REVERT}\` |`,
      '| Failure reason | health: status 500, expected 200 |',
      '| Failed endpoint | `GET http://127.0.0.1:9400/health` |',
      '| Time to detection | 1 min 07 s |',
      '| Time to rollback | 8.0 s |',
      `| Incident | \`${INCIDENT}\` |`,
      '',
      `Post-mortem: \`postmortems/${INCIDENT}\` (\`agentbus postmortem show ${INCIDENT}\`).`,
      '',
      "_Filed by agentbus from the incident's events on the bus._",
    ].join('\n'),
  );
});

test('ticket: missing facts read n/a, table cells cannot break the table, labels are not repeated, the title fits', () => {
  const ticket = ticketRequest(
    { ...facts, title: 't'.repeat(300), deploymentSha: null, rolledBackTo: null, failureReason: 'a | b\nc', failingEndpoint: null, timeToDetectMs: null, timeToRollBackMs: null, summary: undefined },
    ['incident', 'agentbus', 'incident'],
  );
  assert.match(ticket.title, /^t+ … \[\d+ characters cut\]$/);
  assert.ok(ticket.title.length <= 256);
  assert.deepEqual(ticket.labels, ['incident', 'agentbus']);
  const lines = ticket.body.split('\n');
  assert.equal(lines[0], '| | |', 'no summary line when there is none');
  assert.ok(lines.includes('| Deployment SHA | n/a |'));
  assert.ok(lines.includes('| Rolled back to | n/a |'));
  assert.ok(lines.includes('| Failure reason | a \\| b c |'));
  assert.ok(lines.includes('| Failed endpoint | n/a |'));
  assert.ok(lines.includes('| Time to detection | n/a |'));
  assert.ok(lines.includes('| Time to rollback | n/a |'));
});
