import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentbusRegistry, belongsOn } from '@agentbus/contracts';

// A type is acted on only on its own subject (or within its pattern): the consumer's check that a
// message means what its subject says.

test('a type belongs on its own subject, or on one within its pattern, and nowhere else', () => {
  const escalation = agentbusRegistry['escalation.raised'];
  assert.equal(belongsOn(escalation, 'events.escalation.raised'), true);
  assert.equal(belongsOn(escalation, 'events.notification.delivered'), false);
  assert.equal(belongsOn(escalation, 'events.escalation.raised.extra'), false);
  const followup = agentbusRegistry['schedule.followup'];
  assert.equal(belongsOn(followup, 'schedule.followup.dep-1.2'), true);
  assert.equal(belongsOn(followup, 'schedule.followup'), false, 'the pattern needs a token after it');
  assert.equal(belongsOn(followup, 'schedule.followup..2'), false);
  assert.equal(belongsOn(followup, 'schedule.health-watch'), false);
  for (const definition of Object.values(agentbusRegistry)) {
    if (!definition.subject.endsWith('.>')) assert.equal(belongsOn(definition, definition.subject), true, definition.type);
  }
});
