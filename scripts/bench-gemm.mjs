// GFLOP/s of the native engine's own SGEMM (native/gemm*.cc) beside a peer's, on the products of a
// training step at three shapes: the standard config (4 layers × 128, batch 12 × 64), GPT-2 small
// (768 wide, batch 4 × 256) and SmolLM2-135M (576 wide, batch 4 × 128). Each shape's forward
// product, its input gradient and its weight gradient; the peer is scripts/peers/gemm_peer.py
// (torch.mm where the given python has torch, else NumPy on the system BLAS, e.g. Debian's
// OpenBLAS). At 1 and 2 threads, rounds alternating ours/peer so a neighbour's load hits both;
// each figure is the best of repeated calls, printed with the load average. Warm: the calls follow
// each other, so operands of a few MB stay in L2/L3. Cold: before each call a buffer 1.25× the
// last-level cache is read a float per cache line, so the operands come from memory, as a training
// step's weights do (each used once per step, with the rest of the model read in between).
//
// usage: node scripts/bench-gemm.mjs [--python python3] [--library auto|torch|numpy] [--rounds 1]
//          [--simd avx512|avx2|generic] [--json]
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: a } = parseArgs({
  options: {
    python: { type: 'string', default: process.env.CORPUS_LAB_PEER_PYTHON ?? 'python3' },
    library: { type: 'string', default: 'auto' },
    rounds: { type: 'string', default: '1' },
    simd: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
if (a.simd) process.env.CORPUS_LAB_SIMD = a.simd;
const addonFile = join(repo, 'dist/corpus_lab_native.node');
if (!existsSync(addonFile)) {
  console.error(`bench-gemm: ${addonFile} is missing (npm run build:native builds it)`);
  process.exit(2);
}
const addon = createRequire(import.meta.url)(addonFile);

/** [name, transA, transB, m, n, k]: y = x·W (W [in, out]) and its gradients dx = dy·Wᵀ, dW = xᵀ·dy; Llama's x·Wᵀ (W [out, in]). */
const linear = (what, tokens, inputs, outputs) => [
  [`${what} x·W`, false, false, tokens, outputs, inputs],
  [`${what} dy·Wᵀ`, false, true, tokens, inputs, outputs],
  [`${what} xᵀ·dy`, true, false, inputs, outputs, tokens],
];
const CONFIGS = [
  [
    'standard config',
    [
      ...linear('qkv', 768, 128, 384),
      ...linear('mlp up', 768, 128, 512),
      ...linear('mlp down', 768, 512, 128),
      ['attention q·kᵀ', false, true, 64, 64, 32],
    ],
  ],
  ['GPT-2 small', [...linear('qkv', 1024, 768, 2304), ...linear('mlp up', 1024, 768, 3072), ...linear('mlp down', 1024, 3072, 768)]],
  [
    'SmolLM2-135M',
    [
      ['gate x·Wᵀ', false, true, 512, 1536, 576],
      ['gate dy·W', false, false, 512, 576, 1536],
      ['gate dyᵀ·x', true, false, 1536, 576, 512],
      ['head chunk x·Wᵀ', false, true, 512, 8192, 576],
    ],
  ],
];
const shapes = CONFIGS.flatMap(([config, list]) => list.map(([name, ta, tb, m, n, k]) => ({ config, name, ta, tb, m, n, k })));

const floats = Math.max(...shapes.map((s) => s.m * s.k + s.k * s.n + s.m * s.n)) + 64;
const heap = new ArrayBuffer(floats * 4);
const f = new Float32Array(heap);
for (let i = 0; i < f.length; i++) f[i] = ((i * 7919) % 1000) / 1000 - 0.5;

/** The last-level cache's size in bytes (Linux's sysfs; 32 MB where it cannot be read). */
function lastLevelCache() {
  const dir = '/sys/devices/system/cpu/cpu0/cache';
  let bytes = 32 << 20;
  try {
    for (const index of readdirSync(dir).filter((d) => d.startsWith('index'))) {
      const size = /^(\d+)K$/.exec(readFileSync(join(dir, index, 'size'), 'utf8').trim());
      if (size) bytes = Math.max(bytes, Number(size[1]) * 1024);
    }
  } catch {
    // not Linux: the default stands
  }
  return bytes;
}
const flushBytes = Math.ceil((lastLevelCache() * 1.25) / 64) * 64;
const flush = new Float32Array(flushBytes / 4).fill(1);
/** Reads `flush` a float per cache line, evicting the operands from every cache level. */
function evict() {
  let sum = 0;
  for (let i = 0; i < flush.length; i += 16) sum += flush[i];
  return sum;
}

/** Best GFLOP/s of our gemm on shape s: warm, over ~0.2 s of calls; cold, over 10 calls each after evict(). */
function ours(s, cold) {
  const a = 0,
    b = s.m * s.k,
    c = b + s.k * s.n;
  const run = () => addon.gemm(heap, +s.ta, +s.tb, s.m, s.n, s.k, 1, a * 4, s.ta ? s.m : s.k, b * 4, s.tb ? s.k : s.n, 0, c * 4, s.n);
  run();
  let best = Infinity;
  for (let spent = 0, calls = 0; cold ? calls < 10 : spent < 200; calls++) {
    if (cold) evict();
    const t = performance.now();
    run();
    const dt = performance.now() - t;
    best = Math.min(best, dt);
    spent += dt;
  }
  return (2 * s.m * s.n * s.k) / (best / 1000) / 1e9;
}

/** OpenBLAS 0.3.21 picks Prescott's kernels on CPUs it does not know: name the ones the CPU has, as a user would. */
function openBlasCore() {
  if (process.env.OPENBLAS_CORETYPE || process.platform !== 'linux' || process.arch !== 'x64') return {};
  const flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
  if (/\bavx512f\b/.test(flags)) return { OPENBLAS_CORETYPE: 'SkylakeX' };
  return /\bavx2\b/.test(flags) ? { OPENBLAS_CORETYPE: 'Haswell' } : {};
}

function peer(threads) {
  const list = JSON.stringify(shapes.map(({ ta, tb, m, n, k }) => ({ ta, tb, m, n, k })));
  const env = { ...process.env, ...openBlasCore(), OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) };
  const args = ['--threads', String(threads), '--library', a.library, '--flush-bytes', String(flushBytes), list];
  const r = spawnSync(a.python, [join(repo, 'scripts/peers/gemm_peer.py'), ...args], {
    env,
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    console.error(`bench-gemm: the peer failed (${a.python}): ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
    process.exit(2);
  }
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const load = () => loadavg()[0].toFixed(1);
const results = [];
for (let round = 1; round <= Number(a.rounds); round++)
  for (const threads of [1, 2]) {
    addon.setThreads(threads);
    const warm = shapes.map((s) => ours(s, false));
    const cold = shapes.map((s) => ours(s, true));
    const oursLoad = load();
    const other = peer(threads);
    const peerLoad = load();
    const mine = { warm, cold };
    results.push({ round, threads, ours: mine, oursLoad, peer: other.gflops, peerLoad, library: other.library });
    if (a.json) continue;
    console.log(
      `\nround ${round}, ${threads} thread(s): ${addon.info().blas} (load ${oursLoad}) · ${other.library} (load ${peerLoad}), GFLOP/s warm | cold (caches flushed: ${flushBytes >> 20} MB read before each call)`,
    );
    let config = '';
    const seconds = { warm: [0, 0], cold: [0, 0] };
    const total = () =>
      config &&
      console.log(
        `  ${config}: all its products ${(seconds.warm[1] / seconds.warm[0]).toFixed(2)}× the peer's speed warm, ${(seconds.cold[1] / seconds.cold[0]).toFixed(2)}× cold`,
      );
    shapes.forEach((s, i) => {
      if (s.config !== config) {
        total();
        config = s.config;
        seconds.warm = [0, 0];
        seconds.cold = [0, 0];
      }
      const flop = 2 * s.m * s.n * s.k;
      const column = (when) => {
        seconds[when][0] += flop / mine[when][i];
        seconds[when][1] += flop / other.gflops[when][i];
        return `ours ${mine[when][i].toFixed(1).padStart(6)} peer ${other.gflops[when][i].toFixed(1).padStart(6)} ${(mine[when][i] / other.gflops[when][i]).toFixed(2)}×`;
      };
      console.log(
        `  ${s.config.padEnd(15)} ${s.name.padEnd(17)} ${`${s.m}×${s.k}·${s.k}×${s.n}`.padEnd(18)} ${column('warm')} | ${column('cold')}`,
      );
    });
    total();
  }
if (a.json) console.log(JSON.stringify({ shapes, flushBytes, results }));
