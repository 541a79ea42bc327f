// Inline-completion latency, as the extension sees it: requests to the inference worker
// (dist/worker.js) for 16 new tokens from a tiny-preset checkpoint, timed from postMessage to result;
// then the cost of one more token with the KV cache: 48 vs 16 new tokens after an 8-character
// prompt (all inside the context, so nothing is re-run), difference ÷ 32, median.
// usage: node scripts/bench-completion.mjs [RUN_OR_CHECKPOINT] [--requests N]
// The backend is auto's (native when dist/ has the addon); CORPUS_LAB_NATIVE_ADDON=/nonexistent measures wasm.
// Without a checkpoint it first trains a tiny model on the bundled sample for 50 steps.
import { Worker } from 'node:worker_threads';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const n = Number(args[args.indexOf('--requests') + 1] || 0) || 100;
let model = args.find((a) => !a.startsWith('--') && a !== String(n));
const sample = join(repo, 'media/samples/shakespeare.txt');
if (!model) {
  model = join(mkdtempSync(join(tmpdir(), 'corpus-lab-bench-')), 'run');
  execFileSync(
    process.execPath,
    [join(repo, 'dist/cli.js'), 'train', sample, '-o', model, '--preset', 'tiny', '--max-steps', '50', '--json'],
    { stdio: 'ignore' },
  );
}
const text = readFileSync(sample, 'utf8');
const worker = new Worker(join(repo, 'dist/worker.js'));
let nextId = 1;
const pending = new Map();
worker.on('message', (m) => {
  if ((m.kind === 'result' || m.kind === 'error') && pending.has(m.id)) {
    pending.get(m.id)(m);
    pending.delete(m.id);
  }
});
const generate = (prompt, maxTokens = 16) =>
  new Promise((ok) => {
    const id = nextId++;
    pending.set(id, ok);
    worker.postMessage({
      kind: 'generate',
      id,
      checkpoint: model,
      prompt,
      options: { temperature: 0.7, topK: 40, topP: 0.95, maxTokens, seed: id, stop: [] },
    });
  });

await generate('warm up'); // loads the checkpoint and compiles the kernels
// The engine the worker runs on (an estimate without timed steps answers with it).
const engine = await new Promise((ok) => {
  const id = nextId++;
  pending.set(id, ok);
  worker.postMessage({ kind: 'estimate', id, request: { corpusPath: sample, measureSteps: 0 } });
}).then((m) => (m.kind === 'error' ? { backend: `unknown (${m.message})` } : m.value));
const times = [];
const perToken = [];
for (let i = 0; i < n; i++) {
  const at = Math.floor((i / n) * (text.length - 400));
  const t0 = performance.now();
  const r = await generate(text.slice(at, at + 300));
  times.push(performance.now() - t0);
  if (r.kind === 'error') throw new Error(r.message);
  perToken.push(r.value.msPerToken);
}
const decode = [];
for (let i = 0; i < Math.min(n, 30); i++) {
  const prompt = text.slice(i * 1000, i * 1000 + 8);
  const timed = async (maxTokens) => {
    const t0 = performance.now();
    const r = await generate(prompt, maxTokens);
    if (r.kind === 'error') throw new Error(r.message);
    return performance.now() - t0;
  };
  decode.push(((await timed(48)) - (await timed(16))) / 32);
}
await worker.terminate();
const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
console.log(
  JSON.stringify({
    requests: n,
    new_tokens: 16,
    p50_ms: +q(times, 0.5).toFixed(1),
    p95_ms: +q(times, 0.95).toFixed(1),
    ms_per_token_p50: +q(perToken, 0.5).toFixed(2),
    kv_cache_ms_per_token_p50: +q(decode, 0.5).toFixed(3),
    backend: engine.backend,
    threads: engine.threads,
    ...(engine.blas ? { blas: engine.blas } : {}),
    checkpoint: model,
  }),
);
