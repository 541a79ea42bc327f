// Full training speed and memory of a Llama-family model side by side with transformers
// (scripts/peers/hf_llama_train.py --mode full: LlamaForCausalLM / Qwen2ForCausalLM, SDPA, fp32,
// AdamW) at a real model's shape on random weights and tokens: SmolLM2-135M by default, batch 4 × 128.
// The peer runs at 1 and 2 threads and its best counts. Each side is its own process; peak RSS is
// /usr/bin/time's maximum resident set. Rounds alternate ours/peer so a neighbour's load hits both.
//
// usage: node scripts/bench-llama-train.mjs [--shape smollm2-135m|qwen2.5-0.5b] [--rounds 1] [--steps 4]
//          [--python python3 (one with torch 2.x and transformers)] [--peer scripts/peers/hf_llama_train.py] [--json]
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { measured } from './measured-run.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: a } = parseArgs({
  options: {
    shape: { type: 'string', default: 'smollm2-135m' },
    rounds: { type: 'string', default: '1' },
    steps: { type: 'string', default: '4' },
    python: { type: 'string', default: process.env.CORPUS_LAB_PEER_PYTHON ?? 'python3' },
    peer: { type: 'string', default: join(repo, 'scripts/peers/hf_llama_train.py') },
    json: { type: 'boolean', default: false },
  },
});
const BATCH = ['--batch', '4', '--context', '128'];

const ours = () =>
  measured(process.execPath, [join(repo, 'dist/cli.js'), 'bench', '--shape', a.shape, ...BATCH, '--steps', a.steps, '--json']);
const peer = (threads) =>
  measured(a.python, [a.peer, '--mode', 'full', '--shape', a.shape, ...BATCH, '--steps', a.steps, '--threads', String(threads)]);

if (!existsSync(a.peer)) throw new Error(`${a.peer} not found`);
const gb = (b) => `${(b / 2 ** 30).toFixed(2)} GiB`;
const results = [];
for (let r = 1; r <= Number(a.rounds); r++) {
  const o = ours();
  const peers = [peer(1), peer(2)];
  const p = peers.reduce((best, x) => (x.tokens_per_s > best.tokens_per_s ? x : best));
  results.push({ round: r, ours: o, peer: p, peers });
  if (!a.json)
    console.log(
      `${a.shape} full training, batch 4 × 128, round ${r}: Corpus Lab ${o.tokens_per_s.toFixed(0)} tokens/s (${o.ms_per_step} ms/step, ${o.backend}, ${o.threads} threads), peak RSS ${gb(o.peak_rss_bytes)} · ` +
        `transformers ${p.tokens_per_s.toFixed(0)} tokens/s (${p.ms_per_step} ms/step, torch ${p.torch}, best of 1 and 2 threads: ${p.threads}), peak RSS ${gb(p.peak_rss_bytes)} · ` +
        `speed ratio ${(o.tokens_per_s / p.tokens_per_s).toFixed(2)}×, memory ratio ${(o.peak_rss_bytes / p.peak_rss_bytes).toFixed(2)}×`,
    );
}
if (a.json) console.log(JSON.stringify(results));
