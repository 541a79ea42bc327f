// Training speed and memory of a Llama-family model side by side with transformers (+ PEFT for LoRA):
// scripts/peers/hf_llama_train.py (LlamaForCausalLM / Qwen2ForCausalLM, SDPA, fp32, AdamW) at a real
// model's shape on random weights and tokens, batch 4 × 128: full training, or LoRA r=8 on the seven
// projections (our frozen base: random weights held as BF16 on native, as the model's BF16 folder is;
// the peer's stays fp32, as the issue defines it).
// The peer runs at 1 and 2 threads and its best counts. Each side is its own process; peak RSS is
// /usr/bin/time's maximum resident set. Rounds alternate ours/peer so a neighbour's load hits both;
// the load average is printed with each side.
//
// usage: node scripts/bench-llama-train.mjs [--mode full|lora] [--shape smollm2-135m|qwen2.5-0.5b] [--rounds 1]
//          [--steps 4] [--python python3 (one with torch 2.x, transformers and peft)]
//          [--peer scripts/peers/hf_llama_train.py] [--json]
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { measured } from './measured-run.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: a } = parseArgs({
  options: {
    mode: { type: 'string', default: 'full' },
    shape: { type: 'string', default: 'smollm2-135m' },
    rounds: { type: 'string', default: '1' },
    steps: { type: 'string', default: '4' },
    python: { type: 'string', default: process.env.CORPUS_LAB_PEER_PYTHON ?? 'python3' },
    peer: { type: 'string', default: join(repo, 'scripts/peers/hf_llama_train.py') },
    json: { type: 'boolean', default: false },
  },
});
if (a.mode !== 'full' && a.mode !== 'lora') throw new Error(`--mode is full or lora (got ${a.mode})`);
const lora = a.mode === 'lora';
const RUN = ['--shape', a.shape, '--batch', '4', '--context', '128', '--steps', a.steps, ...(lora ? ['--rank', '8'] : [])];

const ours = () => measured(process.execPath, [join(repo, 'dist/cli.js'), 'bench', ...RUN, ...(lora ? ['--lora'] : []), '--json']);
const peer = (threads) => measured(a.python, [a.peer, '--mode', a.mode, ...RUN, '--threads', String(threads)]);

if (!existsSync(a.peer)) throw new Error(`${a.peer} not found`);
const gb = (b) => `${(b / 2 ** 30).toFixed(2)} GiB`;
const load = () => loadavg()[0].toFixed(1);
const what = lora ? 'LoRA r=8' : 'full training';
const peerName = lora ? 'transformers+PEFT' : 'transformers';
const goal = lora ? [' (goal ≥ 1.5×)', ' (goal ≤ 0.5×)'] : [' (goal ≥ 1.5×)', ' (goal ≤ 1×)'];
const results = [];
for (let r = 1; r <= Number(a.rounds); r++) {
  const o = { ...ours(), load: load() };
  const peers = [1, 2].map((threads) => ({ ...peer(threads), load: load() }));
  const p = peers.reduce((best, x) => (x.tokens_per_s > best.tokens_per_s ? x : best));
  results.push({ round: r, mode: a.mode, ours: o, peer: p, peers });
  if (!a.json)
    console.log(
      `${a.shape} ${what}, batch 4 × 128, round ${r}: Corpus Lab ${o.tokens_per_s.toFixed(0)} tokens/s (${o.ms_per_step} ms/step, ${o.backend}, ${o.threads} threads, ${o.base_dtype} base, load ${o.load}), peak RSS ${gb(o.peak_rss_bytes)} · ` +
        `${peerName} ${p.tokens_per_s.toFixed(0)} tokens/s (${p.ms_per_step} ms/step, torch ${p.torch}, best of 1 and 2 threads: ${p.threads}, load ${p.load}), peak RSS ${gb(p.peak_rss_bytes)} · ` +
        `speed ratio ${(o.tokens_per_s / p.tokens_per_s).toFixed(2)}×${goal[0]}, memory ratio ${(o.peak_rss_bytes / p.peak_rss_bytes).toFixed(2)}×${goal[1]}`,
    );
}
if (a.json) console.log(JSON.stringify(results));
