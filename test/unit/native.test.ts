import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync, readlinkSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { startEngine, tf } from '../../src/worker/engine/backend';
import { addonPath, loadAddon } from '../../src/worker/engine/native';
import { CLI, ENGLISH } from './helpers';
import { fusedLinear } from '../../src/worker/engine/kernels/linear';
import { fusedGelu } from '../../src/worker/engine/kernels/gelu';
import { fusedLayerNorm } from '../../src/worker/engine/kernels/layer-norm';
import { crossEntropy, embed } from '../../src/worker/model/ops';
import { Gpt, KERNEL_OPS, TFJS_OPS } from '../../src/worker/model/gpt';
import { ModelConfig } from '../../src/core/model-config';
import { AdamW } from '../../src/worker/train/adamw';
import { trainStep } from '../../src/worker/train/train-step';
import { runTrainJob, TrainRequest } from '../../src/worker/jobs/train-job';
import { TrainEvent } from '../../src/core/train-events';

// The native engine against the wasm engine's kernels and the tfjs ops. Skipped only where the addon
// is genuinely not built; CI builds it (.ci/run), so there a missing addon fails.
const loaded = loadAddon();
const missing = 'why' in loaded ? loaded.why : undefined;
const skip = missing && process.env.CI !== 'true' ? `native engine not available: ${missing}` : false;

before(async () => {
  if (!skip) await startEngine('native');
});

test('in CI the native addon is built and loads', { skip: process.env.CI === 'true' ? false : 'not CI' }, () => {
  assert.equal(missing, undefined, `CI must build the native engine: ${missing}`);
});

function maxRelDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  assert.equal(got.length, want.length);
  let scale = 1e-3;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  let m = 0;
  for (let i = 0; i < got.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]));
  return m / scale;
}

/** `f`'s value and gradients (by dy = a fixed random tensor) on `engine`. */
async function valueAndGrads(engine: 'native' | 'wasm', f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[]): Promise<Float32Array[]> {
  await startEngine(engine);
  return tf.tidy(() => {
    const y = f(...xs);
    const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 99);
    const grads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), dy)))(xs);
    return [y, ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

async function sameOnBoth(
  label: string,
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  xs: tf.Tensor[],
  tolerance = 1e-5,
  withGrads = true,
): Promise<void> {
  const valueOnly = async (engine: 'native' | 'wasm') => {
    await startEngine(engine);
    return tf.tidy(() => [f(...xs).dataSync() as Float32Array]);
  };
  const wasm = withGrads ? await valueAndGrads('wasm', f, xs) : await valueOnly('wasm');
  const native = withGrads ? await valueAndGrads('native', f, xs) : await valueOnly('native');
  wasm.forEach((w, i) => {
    const d = maxRelDiff(native[i], w);
    assert.ok(d < tolerance, `${label}: ${i === 0 ? 'value' : `gradient ${i}`} differs by ${d}`);
  });
}

const randn = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);

test('matmul on BLAS equals the wasm backend’s: every transpose, batched, broadcast, with bias, odd shapes', { skip }, async () => {
  for (const [m, k, n] of [
    [37, 23, 29],
    [1, 5, 3],
    [768, 128, 65],
    [6, 1, 9],
  ]) {
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ]) {
      const a = randn(ta ? [k, m] : [m, k], m + k);
      const b = randn(tb ? [n, k] : [k, n], k + n);
      await sameOnBoth(`${m}×${k}·${k}×${n} ta=${ta} tb=${tb}`, (x, y) => tf.matMul(x, y, ta, tb), [a, b]);
      tf.dispose([a, b]);
    }
  }
  const batched: [number[], number[]][] = [
    [
      [3, 5, 7],
      [3, 7, 9],
    ],
    [
      [1, 5, 7],
      [4, 7, 3],
    ],
    [
      [2, 3, 5, 7],
      [2, 3, 7, 2],
    ],
    [
      [4, 6, 5],
      [1, 5, 3],
    ],
  ];
  for (const [sa, sb] of batched) {
    const a = randn(sa, 1);
    const b = randn(sb, 2);
    // tfjs's own matmul gradient cannot reduce a broadcast batch: values only there
    await sameOnBoth(`batched ${sa}·${sb}`, (x, y) => tf.matMul(x, y), [a, b], 1e-5, sa[0] === sb[0]);
    tf.dispose([a, b]);
  }
  const [x, w, bias] = [randn([13, 11], 3), randn([11, 7], 4), randn([7], 5)];
  await sameOnBoth('fused matmul + bias', (p, q, r) => tf.fused.matMul({ a: p, b: q, bias: r }), [x, w, bias]);
  tf.dispose([x, w, bias]);
});

test('linear layer (one BLAS call each way) equals x·W + b from tfjs ops, odd shapes', { skip }, async () => {
  for (const [n, i, o] of [
    [768, 128, 384],
    [13, 7, 5],
    [1, 3, 1],
  ]) {
    const [x, w, b] = [randn([n, i], n), randn([i, o], i), randn([o], o)];
    const wasm = await valueAndGrads('wasm', (p, q, r) => tf.add(tf.matMul(p, q), r), [x, w, b]);
    const native = await valueAndGrads('native', fusedLinear, [x, w, b]);
    wasm.forEach((want, j) => assert.ok(maxRelDiff(native[j], want) < 1e-5, `${n}×${i}→${o}: output ${j}`));
    tf.dispose([x, w, b]);
  }
});

test('GELU and layer norm kernels: native equals the wasm kernels (values and gradients), odd sizes', { skip }, async () => {
  for (const shape of [
    [768, 512],
    [7, 13],
    [1, 1],
    [3, 1031],
  ]) {
    const x = tf.mul(randn(shape, shape[1]), 4);
    await sameOnBoth(`GELU ${shape}`, fusedGelu, [x], 2e-6);
    // (a norm over one column has no variance to normalise: its gradient is rounding noise)
    if (shape[1] === 1) continue;
    const [w, b] = [randn([shape[1]], 1), randn([shape[1]], 2)];
    await sameOnBoth(`layer norm ${shape}`, (p, q, r) => fusedLayerNorm(p, q, r), [x, w, b], 2e-5);
    tf.dispose([x, w, b]);
  }
});

test('fused cross-entropy: native equals log-softmax · one-hot from tfjs ops (loss and logit gradients)', { skip }, async () => {
  for (const [n, vocab] of [
    [768, 65],
    [5, 50257],
    [3, 2],
  ]) {
    const logits = tf.mul(randn([n, vocab], vocab), 3);
    const targets = tf.tensor1d(
      Array.from({ length: n }, (_, i) => (i * 7919) % vocab),
      'int32',
    );
    await sameOnBoth(`cross-entropy ${n}×${vocab}`, (l) => crossEntropy(l as tf.Tensor2D, targets), [logits], 5e-5);
    tf.dispose([logits, targets]);
  }
});

test(
  'embedding: native gather and scatter-add gradient equal the one-hot matmul of the tfjs ops (repeated and odd ids)',
  { skip },
  async () => {
    for (const [vocab, c, ids] of [
      [65, 128, [3, 3, 0, 64, 7, 3]],
      [50257, 9, [50256, 1, 1, 12345]],
      [5, 1, [4, 4, 4]],
    ] as const) {
      const table = randn([vocab, c], vocab);
      const idx = tf.tensor1d(ids as unknown as number[], 'int32');
      await sameOnBoth(`embedding ${vocab}×${c}`, (t) => embed(t as tf.Tensor2D, idx), [table], 1e-6);
      tf.dispose([table, idx]);
    }
  },
);

const configs: [ModelConfig, number][] = [
  [{ vocabSize: 65, context: 64, layers: 2, heads: 4, width: 128, norm: 'layernorm', dropout: 0, bias: true }, 3],
  // not whole SIMD vectors anywhere: native attention takes these shapes, the wasm one falls back to tfjs ops
  [{ vocabSize: 13, context: 5, layers: 2, heads: 3, width: 18, norm: 'layernorm', dropout: 0, bias: true }, 3],
  [{ vocabSize: 29, context: 7, layers: 1, heads: 1, width: 9, norm: 'dyt', dropout: 0, bias: true }, 2],
];

async function lossAndGrads(engine: 'native' | 'wasm', config: ModelConfig, batch: number, composite = false) {
  await startEngine(engine);
  const model = Gpt.initialise(config, 5);
  model.ops = composite ? TFJS_OPS : KERNEL_OPS;
  const n = batch * config.context;
  const ids = tf.tensor2d(
    Array.from({ length: n }, (_, i) => (i * 7 + 3) % config.vocabSize),
    [batch, config.context],
    'int32',
  );
  const targets = tf.tensor2d(
    Array.from({ length: n }, (_, i) => (i * 5 + 1) % config.vocabSize),
    [batch, config.context],
    'int32',
  );
  const vars = [...model.params.values()];
  const { value, grads } = tf.variableGrads(() => model.loss(ids, targets), vars);
  const out = {
    loss: value.dataSync()[0],
    grads: new Map([...model.params].map(([name, v]) => [name, grads[v.name].dataSync() as Float32Array])),
  };
  tf.dispose([value, ids, targets, ...Object.values(grads)]);
  model.dispose();
  return out;
}

test('a whole model: loss and every gradient equal on native and wasm, and against the composite tfjs ops', { skip }, async () => {
  for (const [config, batch] of configs) {
    const wasm = await lossAndGrads('wasm', config, batch);
    const composite = await lossAndGrads('wasm', config, batch, true);
    const native = await lossAndGrads('native', config, batch);
    for (const [label, other] of [
      ['wasm', wasm],
      ['tfjs ops', composite],
    ] as const) {
      assert.ok(Math.abs(native.loss - other.loss) < 1e-5, `${JSON.stringify(config)}: loss ${native.loss} vs ${label} ${other.loss}`);
      for (const [name, g] of native.grads)
        assert.ok(maxRelDiff(g, other.grads.get(name)!) < 1e-4, `${config.width}/${config.context}: gradient of ${name} vs ${label}`);
    }
  }
});

test('AdamW kernel on native: same weights and moments as the tfjs-op AdamW; losses as on wasm', { skip }, async () => {
  const config: ModelConfig = { vocabSize: 17, context: 8, layers: 1, heads: 2, width: 20, norm: 'layernorm', dropout: 0, bias: true };
  const runs = [];
  for (const [engine, composite] of [
    ['native', false],
    ['native', true],
    ['wasm', false],
  ] as const) {
    await startEngine(engine);
    const model = Gpt.initialise(config, 9);
    const optimizer = new AdamW(model.params, { beta1: 0.9, beta2: 0.99, weightDecay: 0.1 }, model.decayed);
    optimizer.compositeOps = composite;
    const losses: number[] = [];
    const norms: number[] = [];
    for (let step = 1; step <= 4; step++) {
      const inputs = Int32Array.from({ length: 16 }, (_, i) => (i * 3 + step) % 17);
      const targets = Int32Array.from({ length: 16 }, (_, i) => (i * 5 + step) % 17);
      // gradClip 0.5 makes the clipping factor matter
      const r = await trainStep(model, optimizer, { inputs, targets, batch: 2, lr: 3e-2, update: step, gradClip: 0.5 });
      losses.push(r.loss);
      norms.push(r.gradNorm);
    }
    runs.push({ losses, norms, weights: await model.weights(), moments: await optimizer.moments() });
    optimizer.dispose();
    model.dispose();
  }
  const [fused, composite, wasm] = runs;
  fused.losses.forEach((l, i) => assert.ok(Math.abs(l - composite.losses[i]) < 1e-5, `loss ${i}: ${l} vs ${composite.losses[i]}`));
  for (const [name, w] of fused.weights) assert.ok(maxRelDiff(w.data, composite.weights.get(name)!.data) < 1e-5, name);
  for (const [name, m] of fused.moments) assert.ok(maxRelDiff(m.data, composite.moments.get(name)!.data) < 1e-5, name);
  // Adam's update is nearly sign(g) for tiny gradients, so float rounding of the products moves single weights by up to lr: compare losses.
  fused.losses.forEach((l, i) => assert.ok(Math.abs(l - wasm.losses[i]) < 1e-3, `loss ${i} on native ${l} vs wasm ${wasm.losses[i]}`));
  // the native gradient norm (clipping) against the tfjs ops', from the same first weights
  assert.ok(Math.abs(fused.norms[0] - wasm.norms[0]) < 1e-5 * wasm.norms[0], `gradient norm ${fused.norms[0]} vs ${wasm.norms[0]}`);
  assert.ok(wasm.norms[0] > 0.5, 'the clip must act in this test');
});

test('native kernels leak no tensors and free what they allocate', { skip }, async () => {
  await startEngine('native');
  const model = Gpt.initialise(configs[1][0], 1);
  const optimizer = new AdamW(model.params, { beta1: 0.9, beta2: 0.99, weightDecay: 0.1 }, model.decayed);
  const step = () =>
    trainStep(model, optimizer, {
      inputs: Int32Array.from({ length: 15 }, (_, i) => i % 13),
      targets: Int32Array.from({ length: 15 }, (_, i) => (i + 1) % 13),
      batch: 3,
      lr: 1e-3,
      update: 1,
      gradClip: 1,
    });
  await step();
  const { numTensors, numBytes } = tf.memory();
  await step();
  assert.equal(tf.memory().numTensors, numTensors);
  assert.equal(tf.memory().numBytes, numBytes);
  optimizer.dispose();
  model.dispose();
});

test('bad kernel arguments throw instead of touching memory outside the heap', { skip }, async () => {
  const addon = 'addon' in loaded ? loaded.addon : undefined;
  const heap = new ArrayBuffer(64);
  assert.throws(() => addon!.gemm(heap, 0, 0, 1, 1, 1, 1, 1 << 20, 1, 0, 1, 0, 0, 1), /offset inside the heap/);
  assert.throws(() => addon!.gemm(heap, 0, 0, 1, 1, 1, 1, 2, 1, 0, 1, 0, 0, 1), /4-byte aligned/);
  assert.throws(
    () => (addon!.gemm as (...a: unknown[]) => void)(new Float32Array(4), 0, 0, 1, 1, 1, 1, 0, 1, 0, 1, 0, 0, 1),
    /ArrayBuffer/,
  );
  assert.throws(() => addon!.setThreads(0), /threads must be/);
});

// ---- falling back ----

test('fallback reasons: addon missing, failing to load, built for another architecture, older than this version', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corpus-lab-native-'));
  const gone = loadAddon(join(dir, 'nothing.node'));
  assert.ok('why' in gone && /not built/.test(gone.why) && /npm run build:native/.test(gone.why), JSON.stringify(gone));
  const junk = join(dir, 'junk.node');
  writeFileSync(junk, 'not a shared library');
  const bad = loadAddon(junk);
  assert.ok('why' in bad && /failed to load/.test(bad.why), JSON.stringify(bad));
  // An ELF header naming another CPU (arm64 on x64, x64 elsewhere).
  const foreign = join(dir, 'foreign.node');
  const header = Buffer.alloc(64);
  header.writeUInt32BE(0x7f454c46, 0);
  header[4] = 2;
  header[5] = 1;
  header.writeUInt16LE(process.arch === 'x64' ? 183 : 62, 18);
  writeFileSync(foreign, header);
  const other = loadAddon(foreign);
  assert.ok(
    'why' in other && new RegExp(`built for ${process.arch === 'x64' ? 'arm64' : 'x64'}, this machine is ${process.arch}`).test(other.why),
    JSON.stringify(other),
  );
  // A build from an older checkout: loads, but lacks a kernel this version calls.
  const old = join(dir, 'old-addon.js');
  writeFileSync(
    old,
    `const f = () => undefined;\nmodule.exports = { ${['gemm', 'info', 'embeddingForward', 'embeddingBackward'].map((n) => `${n}: f`).join(', ')} };\n`,
  );
  const stale = loadAddon(old);
  assert.ok(
    'why' in stale && /older than this Corpus Lab/.test(stale.why) && /embeddingBackwardAdd/.test(stale.why),
    JSON.stringify(stale),
  );
});

test(
  'the CLI falls back to wasm with a notice when the addon is missing or broken, and picks native when it loads',
  { skip: existsSync('dist/cli.js') ? false : 'dist/cli.js not built (npm run build)' },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'corpus-lab-native-'));
    const junk = join(dir, 'junk.node');
    writeFileSync(junk, 'not a shared library');
    for (const [path, why] of [
      [join(dir, 'nothing.node'), /not built/],
      [junk, /failed to load/],
    ] as const) {
      const r = spawnSync(
        process.execPath,
        ['dist/cli.js', 'bench', '--steps', '1', '--layers', '1', '--width', '16', '--heads', '2', '--context', '8', '--batch', '2'],
        {
          encoding: 'utf8',
          env: { ...process.env, CORPUS_LAB_NATIVE_ADDON: path },
        },
      );
      assert.equal(r.status, 0, r.stderr);
      const out = r.stdout + r.stderr;
      assert.match(out, / on wasm with /);
      assert.match(out, new RegExp(`native engine not used: .*${why.source}`));
    }
    if (!skip) {
      const out = execFileSync(
        process.execPath,
        [
          'dist/cli.js',
          'bench',
          '--steps',
          '1',
          '--layers',
          '1',
          '--width',
          '16',
          '--heads',
          '2',
          '--context',
          '8',
          '--batch',
          '2',
          '--json',
        ],
        { encoding: 'utf8' },
      );
      const r = JSON.parse(out.trim().split('\n').pop()!);
      assert.equal(r.backend, 'native');
      assert.match(r.blas, /^Corpus Lab GEMM \(/);
    }
  },
);

test('train names the native engine and the kernels of its matrix products in its training: line', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'corpus-lab-first-line-'));
  const args = [
    'train',
    ENGLISH,
    '-o',
    join(dir, 'run'),
    '--layers',
    '1',
    '--heads',
    '2',
    '--width',
    '16',
    '--context',
    '8',
    '--batch',
    '2',
  ];
  const r = spawnSync(process.execPath, [CLI, ...args, '--max-steps', '1', '--backend', 'native'], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const line = (r.stdout + r.stderr).split('\n').find((l) => l.startsWith('training: '));
  assert.match(line ?? '', / · native \(\d+ threads?, Corpus Lab GEMM \((AVX-512|AVX2|SSE2|NEON|portable)\)\)$/, r.stdout + r.stderr);
});

// ---- checkpoints move between engines ----

test('a run started on wasm resumes on native and the other way: losses continue as an uninterrupted run’s', { skip }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'corpus-lab-native-resume-'));
  const corpus = join(root, 'corpus.txt');
  writeFileSync(corpus, 'the quick brown fox jumps over the lazy dog. 다람쥐 헌 쳇바퀴에 타고파. '.repeat(60));
  const base: TrainRequest = {
    corpusPath: corpus,
    layers: 1,
    width: 32,
    heads: 2,
    context: 16,
    batch: 4,
    seed: 3,
    maxSteps: 12,
    evalEvery: 1000,
    threads: 1,
  };
  const train = async (req: TrainRequest, stopAfter?: number) => {
    const events: TrainEvent[] = [];
    let steps = 0;
    const result = await runTrainJob(
      req,
      (e) => {
        events.push(e);
        if (e.type === 'step') steps = e.step;
      },
      () => stopAfter !== undefined && steps >= stopAfter,
    );
    const start = events.find((e) => e.type === 'start');
    return {
      result,
      backend: start?.type === 'start' ? start.backend : undefined,
      losses: events.flatMap((e) => (e.type === 'step' ? [e.loss] : [])),
    };
  };
  for (const [first, second] of [
    ['wasm', 'native'],
    ['native', 'wasm'],
  ] as const) {
    await startEngine(first);
    const whole = await train({ ...base, backend: first, runDir: join(root, `${first}-whole`) });
    const half = await train({ ...base, backend: first, runDir: join(root, `${first}-half`) }, 6);
    assert.equal(half.result.reason, 'cancelled');
    assert.equal(half.backend, first);
    const runJson = JSON.parse(readFileSync(join(root, `${first}-half`, 'run.json'), 'utf8'));
    assert.equal(runJson.backend.name, first);
    if (first === 'native') assert.match(runJson.backend.blas, /^Corpus Lab GEMM \(/);
    await startEngine(second);
    const resumed = await train({ ...base, backend: second, resume: join(root, `${first}-half`) });
    assert.equal(resumed.backend, second);
    assert.equal(resumed.result.reason, 'completed');
    assert.equal(resumed.losses.length, 6);
    resumed.losses.forEach((l, i) =>
      assert.ok(Math.abs(l - whole.losses[6 + i]) < 2e-4, `${first}→${second} step ${7 + i}: ${l} vs ${whole.losses[6 + i]}`),
    );
  }
});

test('addon path: next to the bundle or in the repository build', { skip }, () => {
  assert.ok(existsSync(addonPath()), addonPath());
  const copy = join(mkdtempSync(join(tmpdir(), 'corpus-lab-native-')), 'corpus_lab_native.node');
  copyFileSync(addonPath(), copy);
  assert.ok('addon' in loadAddon(copy));
});

/** The native pool's threads in this process (named by native/pool.h): Linux thread id → nice value. */
function poolThreads(): Map<number, number> {
  const found = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() !== 'corpus-lab-pool') continue;
      // Field 19 of stat is the nice value; the command name (field 2) may hold spaces, so count after its ')'.
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      found.set(Number(tid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
    } catch {
      // the thread ended meanwhile
    }
  }
  return found;
}

test(
  'each JS thread gets its own pool, whose threads take that thread’s nice value (a niced training worker never runs BLAS at the editor’s priority)',
  { skip: skip || (process.platform !== 'linux' && 'Linux only') },
  async () => {
    const addon = (loaded as { addon: { setThreads(n: number): number } }).addon;
    addon.setThreads(2);
    const before = poolThreads();
    assert.ok(before.size >= 1, 'this thread’s pool has a thread');
    const own = getPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()));
    const nice = Math.min(19, own + 5);
    // A worker thread lowers its own priority (as dist/worker.js does for training), then starts its pool.
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
     const { setPriority } = require('node:os');
     const { readlinkSync } = require('node:fs');
     setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), workerData.nice);
     const addon = require(workerData.path);
     parentPort.postMessage(addon.setThreads(2));
     parentPort.once('message', () => process.exit(0));`,
      { eval: true, workerData: { nice, path: addonPath() } },
    );
    try {
      assert.equal(await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject)), 2);
      const started = [...poolThreads()].filter(([tid]) => !before.has(tid));
      assert.deepEqual(
        started.map(([, n]) => n),
        [nice],
        `the worker's pool threads and their nice values: ${JSON.stringify(started)} (this thread's: ${JSON.stringify([...before])})`,
      );
      assert.deepEqual(
        [...before].map(([tid]) => [tid, poolThreads().get(tid)]),
        [...before],
        'this thread’s pool is untouched',
      );
    } finally {
      worker.postMessage('exit');
      await new Promise((resolve) => worker.once('exit', resolve));
    }
  },
);
