/** README.md of an exported LoRA fine-tune: the base, how to run train_peft.py on a GPU machine, and how to bring the run back. */
export function loraExportReadme(e: {
  folder: string;
  checkpoint: string;
  step: number;
  totalSteps: number;
  batch: number;
  base: string;
  withBase: boolean;
  data: string;
}): string {
  const dataFiles =
    e.data === 'examples'
      ? "| `train-ids.bin`, `train-labels.bin`, `train-lengths.bin` (and `val-…`) | the examples, one per row: int32 ids padded with 0, labels with -100 on every token that is not trained (prompts, user turns, padding), each row's length |"
      : '| `train.bin`, `val.bin` | the token stream (a text, or documents each ended by the end-of-text token), training and held-out parts |';
  const base = e.withBase
    ? `The base model is in \`base/\` (copied at export), so the folder is all the machine needs.`
    : `The base model is **not** in this folder: \`base.json\` names it (\`${e.base}\` here) with the sha256 of
its weights. Copy that folder to the GPU machine too (or download the same model there) and pass
\`--base DIR\`; train_peft.py refuses a base whose weights differ. (\`corpus-lab export-torch --with-base\`
copies it into the folder instead.)`;
  return `# Continue this LoRA fine-tune with transformers + PEFT

This folder continues a Corpus Lab LoRA fine-tune from checkpoint \`${e.checkpoint}\` (step ${e.step} of
${e.totalSteps}) with PyTorch's distributed data parallel: one GPU, several, or several machines.
The result is a Corpus Lab run folder you copy back and open in the editor.

| file | what it is |
|---|---|
| \`train_peft.py\` | the training script (PyTorch 2, transformers, peft); it uses helpers from \`train.py\` |
| \`plan.json\` | the learning-rate schedule, the step reached, the seed, LoRA's r, alpha, rsLoRA, dropout and targets, the data layout, checksums |
| \`base.json\` | the base model: its folder here, its weights file and that file's sha256 |
| \`checkpoints/${e.checkpoint}/\` | the adapter so far (PEFT's \`adapter_model.safetensors\` + \`adapter_config.json\`), AdamW moments, trainer state |
${dataFiles}
| \`tokenizer.json\` | the tokenizer |
| \`metrics.jsonl\` | the run's curves so far, carried into the new run |

${base}

## 1. Copy it to the machine

\`\`\`sh
rsync -a ${e.folder}/ gpu-box:${e.folder}/
ssh gpu-box
python3 -m pip install torch transformers peft safetensors numpy     # skip what is installed
\`\`\`

train_peft.py checks every file against the checksums in plan.json before it trains, so a
half-copied folder is refused with a message naming the file.

## 2. Run it

\`\`\`sh
cd ${e.folder}
torchrun --nproc_per_node 1 train_peft.py${e.withBase ? '' : ' --base BASE_DIR'}                  # one GPU
torchrun --nproc_per_node 8 train_peft.py${e.withBase ? '' : ' --base BASE_DIR'}                  # eight GPUs on this machine
torchrun --nproc_per_node 2 train_peft.py${e.withBase ? '' : ' --base BASE_DIR'} --device cpu     # CPU processes (gloo)
\`\`\`

Options:

- \`--base DIR\`: the base model's folder (default: \`base/\` here, else the path in base.json).
- \`--max-steps N\`, \`--epochs N\`: train to step N / for N passes, counted from the start of the run
  (as \`corpus-lab train --resume\`); without them the run goes on to step ${e.totalSteps}.
- \`--out RUN_DIR\`: where the run goes (default \`run/\` here). Running again with the same \`--out\`
  continues from its newest checkpoint.
- \`--device cuda|cpu\`: default cuda when PyTorch sees a GPU (\`nccl\` between processes; \`gloo\` on CPU).
- \`--base-dtype float32|bfloat16\`: the frozen base's dtype (default float32, as Corpus Lab computes;
  bfloat16 halves its memory, the adapter stays float32, and the losses move by BF16 rounding).
- \`--batch N\`: rows per process per forward pass. The global batch stays ${e.batch} (the plan's): each
  process computes its share, in passes of N with gradient accumulation when N is smaller.

The base is loaded (float32 unless \`--base-dtype\`) and frozen; only the adapter trains. The loss is the mean over the
batch's trained tokens, as Corpus Lab computes it, whatever the number of processes. Each step prints
one JSON line (\`step\`, \`loss\`, \`lr\`, \`grad_norm\`, \`tokens_per_s\`); evaluations and checkpoints
print theirs. Checkpoints (at each epoch's end and the last step, written atomically) are PEFT
adapter folders: \`PeftModel.from_pretrained(base, "run/checkpoints/NAME")\` loads them.

## 3. Bring the run back

\`\`\`sh
rsync -a gpu-box:${e.folder}/run/ .corpus-lab/runs/${e.folder}-peft/     # into the runs folder Corpus Lab shows
\`\`\`

It is a Corpus Lab run on the same base: the **Runs** view shows its loss chart; eval, compare and
merge take it, and it continues on the laptop:

\`\`\`sh
corpus-lab eval .corpus-lab/runs/${e.folder}-peft HELD_OUT.txt
corpus-lab merge .corpus-lab/runs/${e.folder}-peft -o merged/
corpus-lab train DATA --resume .corpus-lab/runs/${e.folder}-peft --max-steps N    # the same run, further
corpus-lab finetune .corpus-lab/runs/${e.folder}-peft DATA --lora                 # a new run training this adapter further
\`\`\`
`;
}
