// Next Token view latency on the tiny preset: a `next` request (with the logit lens, as the view asks) to the inference worker
// (dist/worker.js) for the text before a cursor and the text after it, timed from postMessage to
// result, plus the view's own reshaping of that distribution (shapeDistribution, what a slider
// move costs). Prints p50/p95 of each and of their sum; the budget is 50 ms per update.
// usage: node scripts/bench-next-token.mjs [RUN_OR_CHECKPOINT] [--requests N]
// Without a checkpoint it first trains a tiny model on the bundled sample for 50 steps.
import { Worker } from 'node:worker_threads';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const n = Number(args[args.indexOf('--requests') + 1] || 0) || 100;
const tmp = mkdtempSync(join(tmpdir(), 'corpus-lab-bench-next-'));
let model = args.find((a) => !a.startsWith('--') && a !== String(n));
const sample = join(repo, 'media/samples/shakespeare.txt');
if (!model) {
  model = join(tmp, 'run');
  execFileSync(
    process.execPath,
    [join(repo, 'dist/cli.js'), 'train', sample, '-o', model, '--preset', 'tiny', '--max-steps', '50', '--json'],
    { stdio: 'ignore' },
  );
}
// The webview's reshaping code, bundled from src/core as the view bundles it.
const shapeModule = join(tmp, 'distribution.mjs');
await esbuild.build({
  entryPoints: [join(repo, 'src/core/distribution.ts')],
  outfile: shapeModule,
  bundle: true,
  format: 'esm',
  platform: 'node',
  logLevel: 'warning',
});
const { shapeDistribution } = await import(pathToFileURL(shapeModule).href);

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
const next = (prompt, following) =>
  new Promise((ok) => {
    const id = nextId++;
    pending.set(id, ok);
    worker.postMessage({ kind: 'next', id, checkpoint: model, request: { prompt, following, lens: true } });
  });

await next('warm up', 'x');
const request = [];
const reshape = [];
const total = [];
for (let i = 0; i < n; i++) {
  const at = 2000 + Math.floor((i / n) * (text.length - 4000));
  const t0 = performance.now();
  const r = await next(text.slice(at - 2000, at), text.slice(at, at + 32));
  const t1 = performance.now();
  if (r.kind === 'error') throw new Error(r.message);
  shapeDistribution(r.value.logits, { temperature: 0.3 + (i % 10) / 10, topK: 40, topP: 0.95 });
  const t2 = performance.now();
  request.push(t1 - t0);
  reshape.push(t2 - t1);
  total.push(t2 - t0);
}
await worker.terminate();
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))].toFixed(2);
const line = (name, xs) => `${name.padEnd(28)} p50 ${pct(xs, 0.5)} ms   p95 ${pct(xs, 0.95)} ms`;
console.log(`${n} updates, tiny preset checkpoint ${model}`);
console.log(line('worker request (cursor move)', request));
console.log(line('reshape (slider move)', reshape));
console.log(line('update total (budget 50 ms)', total));
