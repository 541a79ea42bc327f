import { test } from 'node:test';
import assert from 'node:assert/strict';
import { etaSeconds, formatDuration, roughDuration } from '../../src/core/duration';

test('durations read as seconds, minutes or hours (the CLI in English; the extension puts the unit in Korean)', () => {
  assert.deepEqual(roughDuration(0.2), { value: 1, unit: 's' });
  assert.deepEqual(roughDuration(42.4), { value: 42, unit: 's' });
  assert.deepEqual(roughDuration(59.4), { value: 59, unit: 's' });
  assert.deepEqual(roughDuration(59.6), { value: 1, unit: 'min' });
  assert.deepEqual(roughDuration(125), { value: 2, unit: 'min' });
  assert.deepEqual(roughDuration(3569), { value: 59, unit: 'min' });
  assert.deepEqual(roughDuration(3571), { value: 1, unit: 'h' });
  assert.deepEqual(roughDuration(5400), { value: 1.5, unit: 'h' });
  assert.deepEqual(roughDuration(100 * 3600), { value: 100, unit: 'h' });
  assert.equal(formatDuration(42.4), '42 s');
  assert.equal(formatDuration(125), '2 min');
  assert.equal(formatDuration(5400), '1.5 h');
});

test('ETA: the steps left at the pace so far, unknown until a step has been timed', () => {
  assert.equal(etaSeconds(90, 10, 5), 45);
  assert.equal(etaSeconds(0, 10, 5), 0);
  assert.equal(etaSeconds(-3, 10, 5), 0);
  assert.equal(etaSeconds(90, 0, 0), undefined);
  assert.equal(etaSeconds(90, 10, NaN), undefined);
  assert.equal(etaSeconds(90, 10, Infinity), undefined);
});
