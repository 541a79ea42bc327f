import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine, tf } from '../../src/worker/engine/backend';
import { loadAddon, nativeAddon } from '../../src/worker/engine/native';
import { heap, heapOffset } from '../../src/worker/engine/kernels/kernel-module';

// The optimizer's passes over every parameter in one native call (native/optimizer.cc) against one
// call per parameter: the same floats, on one thread and split across two, with a parameter larger
// than one chunk (65,536 floats) so two threads share it. Skipped only where the addon is not built.
const loaded = loadAddon();
const missing = 'why' in loaded ? loaded.why : undefined;
const skip = missing && process.env.CI !== 'true' ? `native engine not available: ${missing}` : false;

before(async () => {
  if (!skip) await startEngine('native');
});

const sizes = [7, 160 * 640 + 3, 65_536, 1];
const hyper = [3e-2, 0.9, 0.1, 0.99, 0.01, 0.2, 0.05, 1e-8] as const;

/** p, g, m, v of each parameter, random (v positive), the same on every call. */
function state(): tf.Tensor[][] {
  return sizes.map((n, i) => [
    tf.randomNormal([n], 0, 1, 'float32', 10 * i + 1),
    tf.randomNormal([n], 0, 1, 'float32', 10 * i + 2),
    tf.randomNormal([n], 0, 0.1, 'float32', 10 * i + 3),
    tf.abs(tf.randomNormal([n], 0, 0.01, 'float32', 10 * i + 4)),
  ]);
}

for (const threads of [1, 2]) {
  test(
    `AdamW on every parameter in one call: the same weights and moments as one call per parameter (${threads} thread(s))`,
    { skip },
    () => {
      const addon = nativeAddon()!;
      addon.setThreads(threads);
      const keep = sizes.map((_, i) => (i % 2 ? 1 - 3e-2 * 0.1 : 1));
      const one = state();
      one.forEach(([p, g, m, v], i) => {
        const [pAt, gAt, mAt, vAt] = [p, g, m, v].map(heapOffset);
        addon.adamwUpdate(heap(), pAt, gAt, mAt, vAt, pAt, mAt, vAt, p.size, ...hyper, keep[i], 0.7);
      });
      const all = state();
      const offsets = Float64Array.from(all.flatMap((ts) => ts.map(heapOffset)));
      addon.adamwAll(heap(), offsets, Float64Array.from(sizes), Float64Array.from(keep), ...hyper, 0.7);
      all.forEach((ts, i) =>
        ['p', 'm', 'v'].forEach((what, j) => {
          const k = j === 0 ? 0 : j + 1;
          assert.deepEqual(ts[k].dataSync(), one[i][k].dataSync(), `${what} of parameter ${i}`);
        }),
      );
      assert.notDeepEqual(all[1][0].dataSync(), state()[1][0].dataSync(), 'the weights moved');
      tf.dispose([...one.flat(), ...all.flat()]);
    },
  );

  test(`the clipping norm's sum of squares in one call: the same number as one call per gradient (${threads} thread(s))`, { skip }, () => {
    const addon = nativeAddon()!;
    addon.setThreads(threads);
    const grads = state().map(([p, g, m, v]) => (tf.dispose([p, m, v]), g));
    const oneByOne = grads.reduce((s, g) => s + addon.sumSquares(heap(), heapOffset(g), g.size), 0);
    const together = addon.sumSquaresAll(heap(), Float64Array.from(grads.map(heapOffset)), Float64Array.from(sizes));
    assert.equal(together, oneByOne);
    tf.dispose(grads);
  });
}

test('the one-call optimizer refuses offsets that do not match the sizes', { skip }, () => {
  const addon = nativeAddon()!;
  assert.throws(() => addon.sumSquaresAll(heap(), Float64Array.from([0, 4]), Float64Array.from([1])), /offsets do not match/);
  assert.throws(() => addon.sumSquaresAll(heap(), Float64Array.from([heap().byteLength - 4]), Float64Array.from([2])), /inside the heap/);
});
