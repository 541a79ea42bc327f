// Completion speed and memory of a SmolLM2-135M-shaped Llama model (or another of core/model-shapes.ts; random weights) on the native
// engine's fused decode: 16 new tokens after a 256-token prompt, p50 ms per token, resident memory
// (peak included), and the ratio to the weight-reading limit (every weight is read once per token, 4
// bytes a value in fp32, 2 for BF16 matrices; ~30 GB/s is what two threads read here, issue 19).
// Each dtype's weights are written as a model folder's model.safetensors (F32, or BF16 as
// transformers saves them) and opened as a folder is, in a process of its own that only loads the
// built bundle (building it compiles the AssemblyScript kernels, ~220 MB that are no completion's),
// one after the other; they are printed side by side. Not a test: a figure for the README.
// usage: node scripts/bench-decode-llama.mjs [--shape smollm2-135m|qwen2.5-0.5b] [--dtype fp32,bf16|fp32|bf16] [--prompt 256] [--tokens 16] [--threads 2] [--bandwidth 30] [--json]
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
// Bundled into out/ (beside the test bundles, where the wasm backend's files resolve from node_modules).
const bundle = join(repo, 'out/bench-decode.js');
const { values: a } = parseArgs({
  options: {
    shape: { type: 'string', default: 'smollm2-135m' },
    dtype: { type: 'string', default: 'fp32,bf16' },
    prompt: { type: 'string', default: '256' },
    tokens: { type: 'string', default: '16' },
    threads: { type: 'string', default: '2' },
    bandwidth: { type: 'string', default: '30' },
    json: { type: 'boolean', default: false },
    // Internal: the measuring process, given the folder to open.
    measure: { type: 'string' },
  },
});

if (a.measure !== undefined) {
  const addon = join(repo, 'dist/corpus_lab_native.node');
  if (!process.env.CORPUS_LAB_NATIVE_ADDON && existsSync(addon)) process.env.CORPUS_LAB_NATIVE_ADDON = addon;
  const { benchDecode, MODEL_SHAPES } = createRequire(import.meta.url)(bundle);
  const r = await benchDecode(config(MODEL_SHAPES), a.measure, Number(a.prompt), Number(a.tokens), Number(a.threads));
  console.log(JSON.stringify(summary(r)));
  process.exit(0);
}

const dtypes = a.dtype.split(',');
if (dtypes.length === 0 || dtypes.some((d) => d !== 'fp32' && d !== 'bf16')) {
  console.error(`--dtype ${a.dtype}: give fp32, bf16 or fp32,bf16`);
  process.exit(2);
}
const esbuild = await import('esbuild');
const { nodeBundleOptions } = await import('./node-bundle.mjs');
await esbuild.build({ ...nodeBundleOptions(repo), entryPoints: [join(repo, 'src/worker/bench/decode-bench.ts')], outfile: bundle });
const { writeRandomWeights, MODEL_SHAPES } = createRequire(import.meta.url)(bundle);
const shape = config(MODEL_SHAPES);
const passed = process.argv
  .slice(2)
  .filter((arg, i, all) => arg !== '--dtype' && all[i - 1] !== '--dtype' && !arg.startsWith('--dtype=') && arg !== '--json');
const rows = dtypes.map((dtype) => {
  const dir = mkdtempSync(join(tmpdir(), 'corpus-lab-bench-decode-'));
  try {
    writeRandomWeights(shape, dtype, dir);
    const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), ...passed, '--measure', dir], { encoding: 'utf8' });
    return JSON.parse(out.trim().split('\n').pop());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
if (a.json) for (const row of rows) console.log(JSON.stringify(row));
else {
  const columns = [
    'dtype',
    'weight_mb',
    'p50_ms_per_token',
    'max_ms_per_token',
    'cpu_ms_per_token',
    'weight_read_limit_ms',
    'ratio_to_limit',
    'prefill_ms',
    'start_rss_mb',
    'rss_mb',
    'peak_rss_mb',
    'peak_to_weights',
    'wasm_heap_mb',
    'load_average',
  ];
  console.log(
    `${a.shape} shape, ${rows[0].params.toLocaleString('en-US')} params, ${rows[0].prompt_tokens}-token prompt then ${rows[0].new_tokens} new tokens, ${rows[0].threads} thread(s), limit at ${a.bandwidth} GB/s; memory of a process that opened the folder and completed`,
  );
  console.table(rows.map((row) => Object.fromEntries(columns.map((c) => [c, row[c]]))));
}

/** The shape asked for; the context just holds the prompt and the new tokens (a longer one only adds cache pages never touched). */
function config(shapes) {
  const shape = shapes[a.shape];
  if (!shape) {
    console.error(`unknown --shape ${a.shape}: choose one of ${Object.keys(shapes).join(', ')}`);
    process.exit(2);
  }
  return { ...shape, context: Number(a.prompt) + Number(a.tokens) };
}

function summary(r) {
  const sorted = [...r.msPerToken].sort((x, y) => x - y);
  const p50 = sorted[Math.floor(sorted.length / 2)];
  const limitMs = (r.weightBytes / (Number(a.bandwidth) * 1e9)) * 1000;
  const mb = (bytes) => Math.round(bytes / 1e6);
  return {
    shape: a.shape,
    dtype: r.dtype,
    backend: r.backend,
    threads: r.threads,
    params: r.params,
    weight_mb: mb(r.weightBytes),
    prompt_tokens: r.promptTokens,
    prefill_ms: Math.round(r.prefillMs),
    new_tokens: r.msPerToken.length,
    p50_ms_per_token: Number(p50.toFixed(1)),
    max_ms_per_token: Number(sorted[sorted.length - 1].toFixed(1)),
    cpu_ms_per_token: Number(r.cpuMsPerToken.toFixed(1)),
    load_average: Number(loadavg()[0].toFixed(2)),
    weight_read_limit_ms: Number(limitMs.toFixed(1)),
    ratio_to_limit: Number((p50 / limitMs).toFixed(2)),
    start_rss_mb: mb(r.startRssBytes),
    rss_mb: mb(r.rssBytes),
    rss_to_weights: Number((r.rssBytes / r.weightBytes).toFixed(2)),
    peak_rss_mb: mb(r.peakRssBytes),
    peak_to_weights: Number((r.peakRssBytes / r.weightBytes).toFixed(2)),
    wasm_heap_mb: mb(r.heapBytes),
    js_heap_mb: mb(r.jsHeapBytes),
  };
}
