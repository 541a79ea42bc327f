// LoRA fine-tuning speed and memory of a Llama-family model side by side with transformers + PEFT
// (../shared/bench/torch_llama_peft.py --mode lora, or --peer: fp32, SDPA, AdamW) at a real model's
// shape on random weights and tokens: LoRA r=8 on the seven projections, batch 4 × 128. Our frozen
// base is fp32 random weights (bench --lora); a BF16 folder's base would be held as BF16. The peer runs
// at 1 and 2 threads and its best counts. Each side is its own process; peak RSS is /usr/bin/time's
// maximum resident set. Rounds alternate ours/peer so a neighbour's load hits both; the load average is printed.
//
// usage: node scripts/bench-llama-lora.mjs [--shape smollm2-135m|qwen2.5-0.5b] [--rounds 1] [--steps 4]
//          [--python python3 (one with torch 2.x, transformers and peft)] [--peer ../shared/bench/torch_llama_peft.py] [--json]
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
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
    peer: { type: 'string', default: join(repo, '../shared/bench/torch_llama_peft.py') },
    json: { type: 'boolean', default: false },
  },
});
const RUN = ['--shape', a.shape, '--batch', '4', '--context', '128', '--rank', '8', '--steps', a.steps];

const ours = () => measured(process.execPath, [join(repo, 'dist/cli.js'), 'bench', ...RUN, '--lora', '--json']);
const peer = (threads) => measured(a.python, [a.peer, '--mode', 'lora', ...RUN, '--threads', String(threads)]);

if (!existsSync(a.peer)) throw new Error(`${a.peer} not found`);
const gb = (b) => `${(b / 2 ** 30).toFixed(2)} GiB`;
const load = () => loadavg()[0].toFixed(1);
const results = [];
for (let r = 1; r <= Number(a.rounds); r++) {
  const o = { ...ours(), load: load() };
  const peers = [1, 2].map((threads) => ({ ...peer(threads), load: load() }));
  const p = peers.reduce((best, x) => (x.tokens_per_s > best.tokens_per_s ? x : best));
  results.push({ round: r, ours: o, peer: p, peers });
  if (!a.json)
    console.log(
      `${a.shape} LoRA r=8, batch 4 × 128, round ${r}: Corpus Lab ${o.tokens_per_s.toFixed(0)} tokens/s (${o.ms_per_step} ms/step, ${o.backend}, ${o.threads} threads, load ${o.load}), peak RSS ${gb(o.peak_rss_bytes)} · ` +
        `transformers+PEFT ${p.tokens_per_s.toFixed(0)} tokens/s (${p.ms_per_step} ms/step, torch ${p.torch}, best of 1 and 2 threads: ${p.threads}, load ${p.load}), peak RSS ${gb(p.peak_rss_bytes)} · ` +
        `speed ratio ${(o.tokens_per_s / p.tokens_per_s).toFixed(2)}× (goal ≥ 1.5×), memory ratio ${(o.peak_rss_bytes / p.peak_rss_bytes).toFixed(2)}× (goal ≤ 0.5×)`,
    );
}
if (a.json) console.log(JSON.stringify(results));
