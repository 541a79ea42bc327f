import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadAddon, type NativeAddon } from '../../src/worker/engine/native';

// The native engine's elementwise passes are vectorised, measured against GELU's pass over as many
// elements (one exp each) in CPU time on one thread, so a neighbour's load does not decide the
// outcome. SwiGLU's loops had fallen to ~8× GELU's (13 % of a SmolLM2-sized training step), the
// clipping norm's sum of squares to ~0.6× (4 lanes, one addition chain) instead of ~0.1×.
const loaded = loadAddon();
const skip = 'why' in loaded && process.env.CI !== 'true' ? `native engine not available: ${loaded.why}` : false;

const N = 512 * 1536; // SmolLM2-135M's MLP activations at batch 4 × 128

/** The least CPU time (ms) of one call of f over a few rounds of several calls. */
/** The addon on one thread and a heap of `arrays` arrays of N values from −5 to 5 (byte offsets: at(k)). */
function oneThread(arrays: number, use: (addon: NativeAddon, heap: ArrayBuffer, at: (k: number) => number) => void): void {
  const addon = (loaded as { addon: NativeAddon }).addon;
  const threads = addon.info().threads;
  addon.setThreads(1);
  try {
    const heap = new ArrayBuffer(arrays * N * 4);
    const values = new Float32Array(heap);
    for (let i = 0; i < values.length; i++) values[i] = ((i * 7919) % 1000) / 100 - 5;
    use(addon, heap, (k) => k * N * 4);
  } finally {
    addon.setThreads(threads);
  }
}

function cpuMs(f: () => void): number {
  f();
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < 4; i++) f();
    const t = process.cpuUsage(t0);
    best = Math.min(best, (t.user + t.system) / 1000 / 4);
  }
  return best;
}

test('SwiGLU forward and backward cost at most 2× GELU’s pass per element (vectorised)', { skip }, () =>
  oneThread(5, (addon, heap, at) => {
    const gelu = cpuMs(() => addon.geluForward(heap, at(0), at(2), N));
    const geluBack = cpuMs(() => addon.geluBackward(heap, at(0), at(1), at(2), N));
    const swiglu = cpuMs(() => addon.swigluForward(heap, at(0), at(1), at(2), N));
    const swigluBack = cpuMs(() => addon.swigluBackward(heap, at(0), at(1), at(2), at(3), at(4), N));
    assert.ok(swiglu < 2 * gelu, `SwiGLU forward ${swiglu.toFixed(2)} ms, GELU ${gelu.toFixed(2)} ms`);
    assert.ok(swigluBack < 2 * geluBack, `SwiGLU backward ${swigluBack.toFixed(2)} ms, GELU ${geluBack.toFixed(2)} ms`);
  }),
);

test('the clipping norm’s sum of squares costs under a quarter of GELU’s pass per element (vectorised)', { skip }, () =>
  oneThread(2, (addon, heap, at) => {
    const gelu = cpuMs(() => addon.geluForward(heap, at(0), at(1), N));
    const squares = cpuMs(() => addon.sumSquares(heap, at(0), N));
    assert.ok(squares < gelu / 4, `sum of squares ${squares.toFixed(3)} ms, GELU ${gelu.toFixed(3)} ms`);
  }),
);
