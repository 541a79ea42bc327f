// Fine-tuning speed and memory side by side with the PyTorch peer (../shared/bench/torch_finetune.py)
// at GPT-2-small's shape (12 layers, 12 heads, width 768, vocabulary 50257, context 128, batch 4)
// on random tokens: LoRA r=8 on c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj, and full fine-tuning.
// Each side is its own process; peak RSS is /usr/bin/time's maximum resident set of that process.
// The rounds alternate ours/peer so a neighbour's load on a shared machine hits both alike.
//
// usage: node scripts/bench-finetune.mjs [--mode lora|full|both] [--rounds 1] [--steps 6]
//          [--threads 2] [--python /usr/bin/python3] [--peer ../shared/bench/torch_finetune.py] [--json]
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { measured } from './measured-run.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: a } = parseArgs({
  options: {
    mode: { type: 'string', default: 'both' },
    rounds: { type: 'string', default: '1' },
    steps: { type: 'string', default: '6' },
    threads: { type: 'string', default: '2' },
    python: { type: 'string', default: '/usr/bin/python3' },
    peer: { type: 'string', default: join(repo, '../shared/bench/torch_finetune.py') },
    json: { type: 'boolean', default: false },
  },
});
const SHAPE = { layers: 12, heads: 12, width: 768, vocab: 50257, context: 128, batch: 4 };
const shapeArgs = Object.entries(SHAPE).flatMap(([k, v]) => [`--${k}`, String(v)]);
const modes = a.mode === 'both' ? ['lora', 'full'] : [a.mode];

const ours = (mode) =>
  measured(process.execPath, [
    join(repo, 'dist/cli.js'),
    'bench',
    ...shapeArgs,
    '--steps',
    String(a.steps),
    ...(mode === 'lora' ? ['--lora', '--rank', '8'] : []),
    '--json',
  ]);
const peer = (mode) => measured(a.python, [a.peer, '--mode', mode, ...shapeArgs, '--steps', String(a.steps), '--threads', a.threads]);

if (!existsSync(a.peer)) throw new Error(`${a.peer} not found`);
const results = [];
for (const mode of modes) {
  for (let r = 1; r <= Number(a.rounds); r++) {
    const o = ours(mode);
    const p = peer(mode);
    results.push({ mode, round: r, ours: o, peer: p });
    if (!a.json) {
      const gb = (b) => `${(b / 2 ** 30).toFixed(2)} GiB`;
      console.log(
        `${mode.padEnd(4)} round ${r}: Corpus Lab ${o.tokens_per_s.toFixed(0)} tokens/s (${o.ms_per_step} ms/step, ${o.backend}, ${o.threads} threads), peak RSS ${gb(o.peak_rss_bytes)}, ` +
          `${o.trainable_params.toLocaleString('en-US')} trainable · PyTorch ${p.tokens_per_s.toFixed(0)} tokens/s (${p.ms_per_step} ms/step, ${p.threads} threads), peak RSS ${gb(p.peak_rss_bytes)}, ` +
          `${p.trainable_params.toLocaleString('en-US')} trainable · speed ratio ${(o.tokens_per_s / p.tokens_per_s).toFixed(2)}×, memory ratio ${(o.peak_rss_bytes / p.peak_rss_bytes).toFixed(2)}×`,
      );
    }
  }
}
if (a.json) console.log(JSON.stringify(results));
