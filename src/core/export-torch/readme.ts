/** README.md of an exported folder: how to copy it to a GPU machine, run it, and bring the run back. */
export function exportReadme(e: {
  folder: string;
  checkpoint: string;
  step: number;
  totalSteps: number;
  batch: number;
  data: 'tokens' | 'examples';
  dtype: string;
}): string {
  const data =
    e.data === 'tokens'
      ? `| \`train.bin\`, \`val.bin\` | the tokenized corpus, ${e.dtype} little-endian ids (training split, held-out split) |`
      : '| `train-*.bin`, `val-*.bin` | the examples one per row (training, held-out): int32 little-endian ids padded with 0, labels (-100 where not trained), lengths |';
  return `# Continue this Corpus Lab run in PyTorch

This folder continues a Corpus Lab run from checkpoint \`${e.checkpoint}\` (step ${e.step} of
${e.totalSteps}) with PyTorch's distributed data parallel: one GPU, several, or several machines.
The result is a Corpus Lab run folder you copy back and open in the editor.

| file | what it is |
|---|---|
| \`train.py\` | the training script (plain PyTorch ≥ 1.13 and NumPy; \`safetensors\` is used if installed) |
| \`plan.json\` | every hyper-parameter, the learning-rate schedule, the step reached, the seed, the data order, checksums |
| \`checkpoints/${e.checkpoint}/\` | the model (Hugging Face layout: GPT-2, or Llama for a run of Llama blocks), AdamW moments, trainer state |
${data}
| \`tokenizer.json\` | the tokenizer (Hugging Face tokenizers format) |
| \`metrics.jsonl\` | the run's curves so far, carried into the new run |

## 1. Copy it to the machine

\`\`\`sh
rsync -a ${e.folder}/ gpu-box:${e.folder}/        # or: scp -r ${e.folder} gpu-box:
ssh gpu-box
python3 -m pip install torch numpy safetensors     # skip what is installed; safetensors is optional
\`\`\`

train.py checks every file against the checksums in plan.json before it trains, so a half-copied
folder is refused with a message naming the file.

## 2. Run it

\`\`\`sh
cd ${e.folder}
torchrun --nproc_per_node 1 train.py                    # one GPU
torchrun --nproc_per_node 8 train.py                    # eight GPUs on this machine
torchrun --nnodes 2 --nproc_per_node 8 --node_rank 0 \\
  --master_addr HOST0 --master_port 29500 train.py      # two machines: run on each, --node_rank 0 and 1
torchrun --nproc_per_node 2 train.py --device cpu       # CPU processes (gloo)
\`\`\`

\`python3 -m torch.distributed.run\` is the same launcher as \`torchrun\`. PyTorch 1.13 under Python 3.11
(Debian 12's \`python3-torch\`) stops at start with \`AttributeError: 'NoneType' object has no attribute
'get'\`: add \`--redirects 9:0 --tee 9:0\` after \`torchrun\` (up to 9 processes per machine), or use PyTorch ≥ 2.0.

Options:

- \`--max-steps N\`: train to step N, counted from step 0 of the run (as \`corpus-lab train --max-steps\`);
  the cosine schedule is stretched to the new end exactly as \`corpus-lab train --resume\` would.
  Without it the run goes on to step ${e.totalSteps}. \`--epochs N\` counts passes over the training split.
- \`--out RUN_DIR\`: where the run goes (default \`run/\` here). Running again with the same \`--out\`
  continues from its newest checkpoint.
- \`--device cuda|cpu\`: default cuda when PyTorch sees a GPU (\`nccl\` between processes; \`gloo\` on CPU).
- \`--batch N\`: sequences per process per forward pass. The global batch stays ${e.batch} (the plan's):
  each process computes its share of it, in passes of N with gradient accumulation when N is smaller.

Each step prints one JSON line (\`step\`, \`loss\`, \`lr\`, \`grad_norm\`, \`tokens_per_s\`), as
\`corpus-lab train --json\` does; evaluations and checkpoints print theirs. Checkpoints are written
at each epoch's end and at the last step, atomically (a temporary folder, fsync, rename), and
the newest few plus the best by validation loss are kept. The losses are the ones Corpus Lab
would have computed (same model, data order, AdamW, schedule, clipping) up to float rounding;
with dropout above 0 the dropout masks are PyTorch's own.

## 3. Bring the run back

\`\`\`sh
rsync -a gpu-box:${e.folder}/run/ .corpus-lab/runs/${e.folder}-torch/     # into the runs folder Corpus Lab shows
\`\`\`

It is a Corpus Lab run: it appears in the **Runs** view with its loss chart, it can be the active
model for completion, and on the command line:

\`\`\`sh
corpus-lab eval .corpus-lab/runs/${e.folder}-torch val-text.txt
corpus-lab generate .corpus-lab/runs/${e.folder}-torch --prompt "…"
corpus-lab train CORPUS --resume .corpus-lab/runs/${e.folder}-torch --max-steps N   # continue on the laptop
\`\`\`
`;
}
