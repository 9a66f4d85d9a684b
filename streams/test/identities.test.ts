import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentbusRegistry } from '@agentbus/contracts';
import {
  agentbusConsumers,
  agentbusIdentities,
  authorizationConfig,
  operatorPermissions,
  permissionNeeds,
  publishedTypes,
  serviceIdentities,
  servicePermissions,
} from '@agentbus/streams';

const services = serviceIdentities.map((s) => s.service);

test('each service may publish the subjects of its own types and no other type\'s', () => {
  for (const service of services) {
    const allowed = new Set(servicePermissions(service).publish.allow);
    const own = new Set(publishedTypes(service));
    for (const [type, definition] of Object.entries(agentbusRegistry)) {
      assert.equal(allowed.has(definition.subject), own.has(type as never), `${service} ${own.has(type as never) ? 'must' : 'must not'} publish ${type} (${definition.subject})`);
    }
  }
  // The cases the issue names: the notifier cannot order a deploy; only the release agent (and the operator) can.
  assert.ok(!servicePermissions('notifier').publish.allow.includes('agents.deployer.tasks.deploy'));
  assert.ok(servicePermissions('release').publish.allow.includes('agents.deployer.tasks.deploy'));
  // Task lifecycle events only for services with task consumers.
  assert.ok(publishedTypes('deployer').includes('task.completed'));
  assert.ok(!publishedTypes('postmortem').includes('task.completed'));
});

test('a service pulls and acks only its own durables, creates or deletes none, and subscribes only to its own inbox and advisories', () => {
  for (const service of services) {
    const { publish, subscribe } = servicePermissions(service);
    for (const consumer of agentbusConsumers) {
      const next = `$JS.API.CONSUMER.MSG.NEXT.${consumer.stream}.${consumer.durable}`;
      const ack = `$JS.ACK.${consumer.stream}.${consumer.durable}.>`;
      if (consumer.service === service) {
        assert.ok(publish.allow.includes(next) && publish.allow.includes(ack), `${service} pulls and acks ${consumer.durable}`);
        assert.ok(!publish.deny.includes(next));
      } else {
        assert.ok(!publish.allow.includes(next) && publish.deny.includes(next), `${service} may not pull ${consumer.durable}`);
        assert.ok(publish.deny.includes(ack), `${service} may not ack ${consumer.durable}'s messages`);
      }
      assert.ok(publish.deny.includes(`$JS.API.CONSUMER.DELETE.${consumer.stream}.${consumer.durable}`));
      assert.ok(publish.deny.includes(`$JS.API.CONSUMER.CREATE.${consumer.stream}.${consumer.durable}`));
    }
    assert.ok(!publish.allow.some((s) => s.startsWith('$JS.API.STREAM.CREATE') || s.startsWith('$JS.API.STREAM.UPDATE') || s.startsWith('$JS.API.STREAM.DELETE') || s === '>' || s === '$JS.API.>'));
    assert.deepEqual(
      subscribe.allow.filter((s) => !s.startsWith('$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.')),
      [`_INBOX_${service}.>`],
    );
  }
});

test('the operator publishes tasks and reads everything but cannot create streams or touch durables; every type has someone who may publish it', () => {
  const operator = operatorPermissions();
  assert.ok(operator.publish.allow.includes('agents.>'));
  assert.ok(!operator.publish.allow.some((s) => /^\$JS\.API\.STREAM\.(CREATE|UPDATE|DELETE|PURGE)/.test(s)));
  assert.ok(operator.publish.deny.includes('$JS.API.CONSUMER.DURABLE.CREATE.>'));
  assert.ok(operator.publish.deny.includes('$JS.API.CONSUMER.MSG.NEXT.AGENT_TASKS.deployer'));
  const publishers = new Set(services.flatMap((service) => publishedTypes(service)));
  for (const [type, definition] of Object.entries(agentbusRegistry)) {
    const byOperator = definition.subject.startsWith('agents.');
    assert.ok(publishers.has(type as never) || byOperator, `nobody may publish ${type}`);
  }
});

test('the authorization fragment holds one user per identity, public keys only', () => {
  const users = agentbusIdentities().map(({ name, permissions }, i) => ({ name, nkey: `UPUBLIC${i}`, permissions }));
  const text = authorizationConfig(users);
  assert.equal(users.length, services.length + 2);
  assert.equal(text.match(/\{ nkey: UPUBLIC\d+, permissions:/g)?.length, users.length);
  assert.match(text, /^authorization \{$/m);
  assert.doesNotMatch(text, /\bSU[A-Z2-7]{56}\b/, 'no user seed');
});

test('the start-up check asks for what each service needs: its consumers, its types, its buckets', () => {
  const needs = permissionNeeds('deployer');
  const subjects = needs.map((need) => `${need.kind} ${need.subject}`);
  assert.ok(subjects.includes('request $JS.API.CONSUMER.INFO.AGENT_TASKS.deployer'));
  assert.ok(subjects.includes('publish $JS.ACK.AGENT_TASKS.deployer.agentbus-preflight'));
  assert.ok(subjects.includes('publish events.deploy.completed'));
  assert.ok(subjects.includes('publish $KV.AGENTBUS_LEASES.agentbus-preflight'));
  assert.ok(subjects.includes('subscribe _INBOX_deployer.agentbus-preflight'));
  // A pattern subject is probed with a concrete one inside it.
  assert.ok(permissionNeeds('health-monitor').some((need) => need.subject === 'schedule.followup.agentbus-preflight'));
});
