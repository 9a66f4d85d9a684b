import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentbusRegistry } from '@agentbus/contracts';
import { postmortemTriggers } from '../src/service.ts';

// Which events write an incident up (or update its write-up): those that end an incident or
// change what it asks of people. Every other event is a step the write-up tells when it is
// written, and writes nothing itself. concurrent-writers.int shows what a trigger writes.

const rows: Array<[type: string, writes: boolean]> = [
  ['rollback.completed', true],
  ['rollback.failed', true],
  ['rollback.skipped', true],
  ['escalation.raised', true],
  ['escalation.resolved', true],
  ['deploy.planned', false],
  ['deploy.merged', false],
  ['deploy.completed', false],
  ['deploy.failed', false],
  ['health.passed', false],
  ['health.failed', false],
  ['health.recovered', false],
  ['health.inconclusive', false], // its escalation.raised writes it up
  ['followup.scheduled', false],
  ['followup.passed', false],
  ['followup.failed', false], // the rollback (or its skip) that follows writes it up
  ['followup.inconclusive', false], // its escalation.raised writes it up
  ['followup.cancelled', false],
  ['rollback.started', false],
  ['rollback.reverted', false],
  ['postmortem.written', false],
  ['notification.delivered', false],
  ['task.started', false],
  ['task.completed', false],
  ['task.failed', false],
  // A watchdog alert is written up through the escalation raised with it, and updated by its escalation.resolved.
  ['watchdog.alert', false],
  ['watchdog.resolved', false],
  ['drift.detected', false],
  ['drift.resolved', false],
  ['release.completed', true], // one post-mortem per release that did not end healthy, with every step
  ['release.started', false],
  ['release.step-started', false],
  ['release.step-passed', false],
  ['release.checked', false],
  ['release.planned', false],
  ['release.abort-requested', false],
];

test('a post-mortem is written or updated on exactly the triggering events', () => {
  for (const [type, writes] of rows) assert.equal((postmortemTriggers as readonly string[]).includes(type), writes, type);
});

test('every event type of the registry has a row, and every trigger is an event the postmortem consumer reads', () => {
  const events = Object.values(agentbusRegistry)
    .filter((definition) => definition.kind === 'event')
    .map((definition) => definition.type)
    .sort();
  assert.deepEqual(rows.map(([type]) => type).sort(), events, 'a new event type needs a row: decide whether it writes a post-mortem');
  // The postmortem consumer reads events.> (streams/): a trigger elsewhere would never arrive.
  for (const type of postmortemTriggers) assert.ok(agentbusRegistry[type].subject.startsWith('events.'), `${type} is on the events stream`);
});
