import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OverfitWatch, overfitMessage } from '../../src/core/overfit-watch';

const feed = (watch: OverfitWatch, points: [number, number][]) =>
  points.map(([trainLoss, valLoss], i) => watch.add({ step: (i + 1) * 10, trainLoss, valLoss }));

test('overfitting watch: three rises of validation while training falls → one warning naming the best evaluation', () => {
  const out = feed(new OverfitWatch(), [
    [3, 2.5],
    [2.5, 2.3],
    [2.2, 2.35],
    [2.0, 2.4],
    [1.8, 2.5],
    [1.6, 2.6],
    [1.5, 2.7],
  ]);
  assert.deepEqual(
    out.map((w) => (w ? w.now.step : 0)),
    [0, 0, 0, 0, 50, 0, 0],
  );
  const w = out[4]!;
  assert.equal(w.best.step, 20);
  assert.equal(w.rises, 3);
  assert.match(overfitMessage(w), /best 2\.300 at step 20, now 2\.500.*--max-steps 20/);
});

test('overfitting watch: silent when training rises too, when a rise is within noise, and speaks again after validation falls', () => {
  assert.deepEqual(
    feed(new OverfitWatch(), [
      [2, 2.3],
      [2.1, 2.31],
      [2.2, 2.32],
      [2.3, 2.4],
    ]).filter(Boolean),
    [],
  );
  // +0.4% over the best: noise on a small held-out text.
  assert.deepEqual(
    feed(new OverfitWatch(), [
      [3, 2.3],
      [2.5, 2.301],
      [2.2, 2.305],
      [2, 2.31],
    ]).filter(Boolean),
    [],
  );
  const again = feed(new OverfitWatch(), [
    [3, 2.3],
    [2.5, 2.35],
    [2.2, 2.4],
    [2, 2.45],
    [1.9, 2.2],
    [1.8, 2.3],
    [1.7, 2.4],
    [1.6, 2.5],
  ]);
  assert.deepEqual(
    again.map((w) => (w ? w.best.step : 0)),
    [0, 0, 0, 10, 0, 0, 0, 50],
  );
});
