// Training steps of the tiny preset's shape with Llama-family blocks and with GPT-2 blocks, one
// thread, on wasm (no kernels for RMSNorm, rotary, SwiGLU and grouped-query attention: their tfjs
// ops run) and on native (with and without its kernels for them). The cases alternate in rounds
// so a neighbour's load hits them alike; each round's figure is a median, the best round is shown.
// usage: node scripts/bench-llama-ops.mjs [--rounds 3] [--steps 15] [--json]
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import { nodeBundleOptions } from './node-bundle.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: a } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    steps: { type: 'string', default: '15' },
    json: { type: 'boolean', default: false },
  },
});
const addon = join(repo, 'dist/corpus_lab_native.node');
if (!process.env.CORPUS_LAB_NATIVE_ADDON && existsSync(addon)) process.env.CORPUS_LAB_NATIVE_ADDON = addon;

const bundle = join(repo, 'out/bench-llama-ops.js');
await esbuild.build({ ...nodeBundleOptions(repo), entryPoints: [join(repo, 'src/worker/bench/llama-ops-bench.ts')], outfile: bundle });
const { STEP_CASES, medianStepMs } = createRequire(import.meta.url)(bundle);

const rounds = STEP_CASES.map(() => []);
for (let r = 0; r < Number(a.rounds); r++)
  for (const [i, c] of STEP_CASES.entries()) rounds[i].push(await medianStepMs(c, Number(a.steps)));
const rows = STEP_CASES.map((c, i) => ({
  case: c.label,
  best_ms: Math.round(Math.min(...rounds[i])),
  rounds_ms: rounds[i].map(Math.round),
}));
if (a.json) console.log(JSON.stringify({ load_average: loadavg()[0], rows }));
else {
  console.log(`one-thread training steps, tiny preset's shape (load average ${loadavg()[0].toFixed(2)}):`);
  for (const r of rows) console.log(`${String(r.best_ms).padStart(6)} ms  ${r.case}  (rounds: ${r.rounds_ms.join(', ')})`);
}
