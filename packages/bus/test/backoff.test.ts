import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { backoffDelayMs, isWrongLastSequence } from '@agentbus/bus';

test('backoffDelayMs: doubles from baseMs after each failed attempt, never past maxMs', () => {
  const waits = [1, 2, 3, 4, 5, 6, 50].map((attempt) => backoffDelayMs(attempt, { baseMs: 100, maxMs: 1_000 }));
  assert.deepEqual(waits, [100, 200, 400, 800, 1_000, 1_000, 1_000]);
  assert.equal(backoffDelayMs(10_000, { baseMs: 100, maxMs: 2_000 }), 2_000, 'a huge attempt number does not overflow');
  assert.equal(backoffDelayMs(0, { baseMs: 100, maxMs: 2_000 }), 100);
});

test('backoffDelayMs: maxDoublings stops the growth below maxMs (a lease poll of 10 ms waits at most 80 ms)', () => {
  const waits = [1, 2, 3, 4, 5, 9].map((attempt) => backoffDelayMs(attempt, { baseMs: 10, maxMs: 2_000, maxDoublings: 3 }));
  assert.deepEqual(waits, [10, 20, 40, 80, 80, 80]);
});

test('backoffDelayMs: full jitter is a random wait between 0 and the exact one', () => {
  const draws = Array.from({ length: 200 }, () => backoffDelayMs(4, { baseMs: 25, maxMs: 500, jitter: 'full' }));
  assert.ok(draws.every((ms) => ms >= 0 && ms <= 200));
  assert.ok(new Set(draws).size > 1, 'the waits differ');
});

test('isWrongLastSequence: both JetStream codes of the race, nothing else', () => {
  const apiError = (code: number) => new JetStreamApiError({ code: 400, err_code: code, description: 'wrong last sequence' });
  assert.equal(isWrongLastSequence(apiError(JetStreamApiCodes.StreamWrongLastSequence)), true);
  assert.equal(isWrongLastSequence(apiError(JetStreamApiCodes.StreamWrongLastSequenceUnknown)), true);
  assert.equal(isWrongLastSequence(apiError(JetStreamApiCodes.StreamNotFound)), false);
  assert.equal(isWrongLastSequence(new Error('wrong last sequence')), false);
});
