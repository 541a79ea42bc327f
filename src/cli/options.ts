import { BACKEND_CHOICES } from '../worker/engine/backend';
import { ARCHS, PRESETS } from '../core/model-config';
import { MODEL_SHAPES, ModelShapeName } from '../core/model-shapes';
import { INT8_SCHEMES } from '../core/int8';
import { DEFAULT_REPLAY, FINETUNE_LR, UNSEEN_POLICIES } from '../core/finetune';
import { DEFAULT_TRAIN_OPTIONS } from '../core/train-options';
import { CleanOptions, parseCleanRules } from '../core/clean';

// Every flag of every command, declared once: parsing, each command's --help, the usage text and
// the request a command sends are derived from these two tables.

type Kind = 'int' | 'real' | 'text' | 'switch' | 'bool' | readonly string[];

export interface OptionSpec {
  kind: Kind;
  help: string;
  /** The value's name in usage lines (N, X, DIR …); choices print themselves. */
  value?: string;
  short?: string;
}

export const OPTIONS = {
  output: {
    kind: 'text',
    short: 'o',
    value: 'PATH',
    help: 'where to write (a file for clean, a folder for tokenize, the run folder for train, a new folder for export-torch)',
  },
  json: { kind: 'switch', help: 'print JSON (train: one event per line)' },
  rules: {
    kind: 'text',
    value: 'markup,urls,front-matter,emoji',
    help: 'optional cleaning rules, comma-separated (train, estimate: cleans the text with them, as --clean)',
  },
  clean: {
    kind: 'switch',
    help: 'clean the text as it is prepared, as corpus-lab clean does (NFC, line ends, control and zero-width characters, blank runs; --rules adds optional ones); without it a run trains on the text as it is',
  },
  kind: { kind: ['char', 'bpe'], help: 'tokenizer kind' },
  preset: {
    kind: 'text',
    value: Object.keys(PRESETS).join('|'),
    help: "model size: tiny = 4 layers, 4 heads, width 128, context 64, batch 12 (nanoGPT's CPU recipe); small = 6 layers, 6 heads, width 192, context 128",
  },
  layers: { kind: 'int', value: 'N', help: 'transformer blocks (overrides the preset)' },
  heads: { kind: 'int', value: 'N', help: 'attention heads; must divide --width' },
  width: { kind: 'int', value: 'N', help: 'embedding width' },
  context: {
    kind: 'int',
    value: 'N',
    help: "tokens of context (finetune: the training window, at most the base's; default the base's, or 256 when it is longer)",
  },
  batch: {
    kind: 'int',
    value: 'N',
    help: "sequences per step (finetune: default the base run's, or 4 for a base whose context is over 256)",
  },
  vocab: { kind: 'int', value: 'N', help: 'vocabulary size of the random tokens' },
  tokenizer: { kind: ['char', 'bpe'], help: 'tokenizer to train on the corpus (default char)' },
  'vocab-size': { kind: 'int', value: 'N', help: 'BPE vocabulary size (default from the corpus size)' },
  arch: {
    kind: ARCHS,
    help: 'the blocks: gpt2 (learned positions, LayerNorm, GELU MLP) or llama (rotary positions, RMSNorm, grouped-query attention, SwiGLU), at the same parameter budget; a llama checkpoint is a LlamaForCausalLM folder',
  },
  norm: { kind: ['layernorm', 'dyt'], help: 'layernorm (GPT-2) or dyt (Dynamic Tanh, Zhu et al. 2025)' },
  bias: { kind: 'bool', help: 'biases in linear layers and norms (default true; false is a little faster)' },
  dropout: { kind: 'real', value: 'X', help: 'dropout probability' },
  epochs: { kind: 'int', value: 'N', help: 'passes over the training split' },
  'max-steps': {
    kind: 'int',
    value: 'N',
    help: 'optimizer steps (without --epochs or --max-steps: whole epochs, fit to the text: about 2,400 × √(training tokens) tokens)',
  },
  lr: {
    kind: 'real',
    value: 'X',
    help:
      `peak learning rate, warmed up over a tenth of the steps (at most 100), then cosine decay to a tenth ` +
      `(train: default ${DEFAULT_TRAIN_OPTIONS.lr}; finetune: ${FINETUNE_LR.full} full, ${FINETUNE_LR.lora} LoRA)`,
  },
  'eval-every': { kind: 'int', value: 'N', help: 'steps between validation evaluations' },
  seed: { kind: 'int', value: 'N', help: 'random seed (same seed, same losses on the same backend)' },
  backend: { kind: BACKEND_CHOICES, help: 'TensorFlow.js backend (auto picks the best that loads)' },
  threads: { kind: 'int', value: 'N', help: 'training threads sharing each batch on wasm (default one per core, at most 4)' },
  resume: {
    kind: 'text',
    value: 'RUN_DIR_OR_CHECKPOINT',
    help: 'continue a run from its newest (or the named) checkpoint, on the text its run.json names unless FILE is given',
  },
  prompt: { kind: 'text', value: 'TEXT', help: 'text to continue' },
  'max-tokens': { kind: 'int', value: 'N', help: 'tokens to generate' },
  temperature: { kind: 'real', value: 'T', help: 'sampling temperature (0 = always the likeliest token)' },
  'top-k': { kind: 'int', value: 'K', help: 'the K likeliest tokens: sampled among (generate) or listed (next, default 10); 0 = all' },
  'top-p': { kind: 'real', value: 'P', help: 'sample among the likeliest tokens holding probability P' },
  stop: { kind: 'text', value: 'TEXT', help: 'stop when this text is generated' },
  chat: {
    kind: 'text',
    value: 'QUESTION',
    help: "ask QUESTION as a user turn in the model's chat template and print the answer up to its end of turn",
  },
  system: { kind: 'text', value: 'TEXT', help: 'a system turn before the --chat question' },
  steps: { kind: 'int', value: 'N', help: 'steps to time' },
  profile: { kind: 'switch', help: 'also time one step kernel by kernel' },
  scheme: { kind: INT8_SCHEMES, help: 'int8 layout: one scale per output channel, or per block of 32 weights (llama.cpp Q8_0)' },
  text: { kind: 'text', value: 'FILE', help: "text to measure the quality on (default: the held-out tail of the run's corpus)" },
  lora: { kind: 'switch', help: "train a LoRA adapter (PEFT's format) on the frozen base instead of every weight" },
  rank: { kind: 'int', value: 'N', help: 'LoRA rank r (default 8)' },
  alpha: { kind: 'real', value: 'X', help: 'LoRA alpha; the update is scaled by alpha/r (default 2 × rank)' },
  rslora: { kind: 'switch', help: 'rank-stabilised LoRA: scale by alpha/√r' },
  'with-base': {
    kind: 'switch',
    help: "export-torch of a LoRA run: copy the base model into the folder (base/); without it the GPU machine needs the base's folder (train_peft.py --base DIR)",
  },
  'lora-dropout': { kind: 'real', value: 'P', help: "dropout on the adapters' input while training (PEFT's lora_dropout; default 0)" },
  targets: {
    kind: 'text',
    value: 'NAMES',
    help: "modules LoRA adapts, by PEFT's names, or all-linear (default every one: GPT-2's c_attn,attn.c_proj,mlp.c_fc,mlp.c_proj; Llama-family q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj)",
  },
  replay: {
    kind: 'real',
    value: 'FRACTION',
    help: `share of batch rows taken from the base's own corpus when it is known (default ${DEFAULT_REPLAY})`,
  },
  unseen: {
    kind: UNSEEN_POLICIES,
    help: 'characters a char model has never seen: map them to <unk> (default), or add embedding rows (full fine-tuning)',
  },
  finetune: {
    kind: 'text',
    value: 'BASE',
    help: 'estimate fine-tuning BASE on FILE (as `finetune BASE FILE` would: its shape, tokenizer, window and data plan; with --lora its adapters, on a LoRA adapter that adapter continued) instead of training a preset',
  },
  base: {
    kind: 'text',
    value: 'DIR',
    help: "a LoRA adapter's base model folder, for an adapter made by PEFT whose base_model_name_or_path is not a folder here (shapes are checked)",
  },
  shape: {
    kind: Object.keys(MODEL_SHAPES) as ModelShapeName[],
    help: "a real model's shape on random weights (its layers, heads, key/value heads, widths and vocabulary), at --context",
  },
  lens: { kind: 'switch', help: "also the logit lens: each layer's top 5 read through the final norm (layer 0 = the embeddings)" },
} satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

/** `--clean` and `--rules` as a request's cleaning (train, estimate): on when either is given. */
export function cleaningOf(clean: boolean | undefined, rules: string | undefined): { clean?: CleanOptions } {
  return clean || rules !== undefined ? { clean: parseCleanRules(rules ?? '') } : {};
}

export interface CommandSpec {
  /** Positional arguments as usage shows them; [X] is optional. */
  args: string[];
  summary: string;
  options: OptionName[];
  /** Options that must be given, with the value's name usage shows for each (unbracketed). */
  required?: Partial<Record<OptionName, string>>;
}

const MODEL_SHAPE: OptionName[] = ['layers', 'heads', 'width', 'context', 'batch'];

export const COMMANDS: Record<string, CommandSpec> = {
  clean: {
    args: ['FILE'],
    summary:
      'Cleans a text file (NFC, control and zero-width characters, line ends, blank runs; optional rules) and reports what each rule removed.',
    options: ['output', 'rules', 'json'],
  },
  tokenize: {
    args: ['FILE'],
    summary: 'Trains a tokenizer on FILE and writes DIR/tokenizer.json (Hugging Face format); -o DIR is required.',
    options: ['output', 'kind', 'vocab-size', 'json'],
    required: { output: 'DIR' },
  },
  encode: { args: ['TOKENIZER_JSON', 'FILE'], summary: 'Encodes FILE with a tokenizer.json: {"ids":[...]}.', options: ['json'] },
  train: {
    args: ['[FILE]'],
    summary:
      "Trains a GPT on FILE, a text or a folder of .txt/.md documents (when omitted: the bundled sample, or with --resume the run's own text); Ctrl-C writes a checkpoint and exits 130.",
    options: [
      'output',
      'preset',
      ...MODEL_SHAPE,
      'arch',
      'tokenizer',
      'vocab-size',
      'clean',
      'rules',
      'norm',
      'bias',
      'dropout',
      'epochs',
      'max-steps',
      'lr',
      'eval-every',
      'seed',
      'backend',
      'threads',
      'resume',
      'json',
    ],
  },
  generate: {
    args: ['CHECKPOINT_OR_RUN'],
    summary: 'Streams text from a checkpoint (a run folder means its newest checkpoint).',
    options: ['prompt', 'chat', 'system', 'max-tokens', 'temperature', 'top-k', 'top-p', 'seed', 'stop', 'base', 'backend', 'json'],
  },
  eval: {
    args: ['CHECKPOINT_OR_RUN', 'FILE'],
    summary:
      'Mean next-token cross-entropy over every token of FILE but the first: {"loss" (nats per token), "tokens", "bits_per_char", "bits_per_byte", "chars", "bytes"}; chars (Unicode code points) and UTF-8 bytes are those of the predicted tokens; "baselines": {"uniform_loss" (ln |V|), "unigram_bits_per_char" (the text\'s own character frequencies), "gzip_bits_per_byte"}.',
    options: ['base', 'backend', 'json'],
  },
  next: {
    args: ['CHECKPOINT_OR_RUN'],
    summary:
      'The likeliest next tokens after the prompt: {"prompt_tokens","entropy_bits","candidates":[{"id","text","prob","logit"}]}, probabilities = softmax(logits / T).',
    options: ['prompt', 'top-k', 'temperature', 'lens', 'base', 'backend', 'json'],
    required: { prompt: 'TEXT' },
  },
  attention: {
    args: ['CHECKPOINT_OR_RUN'],
    summary:
      'Attention probabilities over the prompt\'s last ≤ context tokens: {"tokens":[{"id","text"}],"attention":[layer][head][query][key]}.',
    options: ['prompt', 'base', 'backend', 'json'],
    required: { prompt: 'TEXT' },
  },
  estimate: {
    args: ['FILE'],
    summary:
      'Parameters, tokens, training memory and time per epoch from a few steps timed here, for a preset or for fine-tuning a model (--finetune BASE).',
    options: [
      'preset',
      'arch',
      'tokenizer',
      'vocab-size',
      'clean',
      'rules',
      'finetune',
      'lora',
      'rank',
      'alpha',
      'rslora',
      'lora-dropout',
      'targets',
      'base',
      'context',
      'batch',
      'steps',
      'backend',
      'json',
    ],
  },
  quantize: {
    args: ['CHECKPOINT_OR_RUN'],
    summary:
      "Writes a weight-only int8 checkpoint (-o OUT_DIR, required) and reports sizes, loss fp32 vs int8, top-1 agreement and mean KL; --json's last line holds them.",
    options: ['output', 'scheme', 'text', 'base', 'backend', 'json'],
    required: { output: 'OUT_DIR' },
  },
  merge: {
    args: ['ADAPTER_CHECKPOINT_OR_RUN'],
    summary: 'Merges a LoRA adapter onto its base into a plain Hugging Face GPT-2 folder (-o OUT_DIR, required).',
    options: ['output', 'base', 'json'],
    required: { output: 'OUT_DIR' },
  },
  'export-torch': {
    args: ['RUN_OR_CHECKPOINT'],
    summary:
      'Writes a folder that continues the run in PyTorch (torchrun, GPUs or several machines): checkpoint, tokenizer, train.bin/val.bin, plan.json, train.py, README.md; ' +
      "a LoRA run's folder holds the adapter so far (PEFT's format), base.json (the base's folder and sha256), the prepared data (examples as padded rows with -100 labels) " +
      'and train_peft.py on transformers + PEFT; -o DIR is required.',
    options: ['output', 'with-base', 'json'],
    required: { output: 'DIR' },
  },
  finetune: {
    args: ['BASE', 'DATA'],
    summary:
      `Fine-tunes BASE (a run or checkpoint, or a Hugging Face GPT-2, Llama, Mistral, Qwen2 or Qwen3 folder) on DATA: a text file; a folder of .txt/.md documents ` +
      '(one corpus, each document ended by the model\'s end-of-text token and held out in part); or a .jsonl in TRL\'s formats ({"text"}, {"prompt", "completion"}, ' +
      '{"messages": [...]}, prompt/completion as message lists), conversations rendered with the model\'s chat template and the loss on the answers only, ' +
      `each example its own row (first example and counts printed before training). Training is on every weight with a fresh optimizer (default --lr ${FINETUNE_LR.full}), ` +
      `or with --lora an adapter on the frozen base (PEFT's format; default --lr ${FINETUNE_LR.lora}); the learning rate is warmed up again, then decays. ` +
      "When BASE's own corpus is on disk, each evaluation also reports base_val_loss (forgetting). --json prints the events of train.",
    options: [
      'output',
      'lora',
      'rank',
      'alpha',
      'rslora',
      'lora-dropout',
      'targets',
      'replay',
      'unseen',
      'base',
      'context',
      'batch',
      'epochs',
      'max-steps',
      'lr',
      'seed',
      'backend',
      'threads',
      'json',
    ],
  },
  bench: {
    args: [],
    summary: 'Times training steps on random tokens (the standard config unless a shape is given).',
    options: [...MODEL_SHAPE, 'vocab', 'shape', 'steps', 'threads', 'backend', 'profile', 'lora', 'rank', 'json'],
  },
};

function placeholder(spec: OptionSpec): string {
  if (Array.isArray(spec.kind)) return spec.kind.join('|');
  if (spec.kind === 'bool') return 'true|false';
  return spec.value ?? '';
}

export function flagText(name: OptionName, valueName?: string): string {
  const spec: OptionSpec = OPTIONS[name];
  const value = valueName ?? placeholder(spec);
  return `${spec.short ? `-${spec.short}` : `--${name}`}${value ? ` ${value}` : ''}`;
}

/** `corpus-lab train [FILE] [-o PATH] [--preset tiny|small] …`, wrapped at 100 columns. */
export function synopsis(command: string): string {
  const spec = COMMANDS[command];
  const words = [
    `corpus-lab ${command}`,
    ...spec.args,
    ...spec.options.map((o) => (spec.required?.[o] ? flagText(o, spec.required[o]) : `[${flagText(o)}]`)),
  ];
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && line.length + 1 + w.length > 98) {
      lines.push(line);
      line = '      ' + w;
    } else line = line ? `${line} ${w}` : w;
  }
  return [...lines, line].join('\n');
}

export function commandHelp(command: string): string {
  const spec = COMMANDS[command];
  const rows = spec.options.map((o) => {
    const s: OptionSpec = OPTIONS[o];
    const names = s.short ? `-${s.short}, --${o}` : `--${o}`;
    const value = placeholder(s);
    return `  ${`${names}${value ? ` ${value}` : ''}`.padEnd(34)} ${s.help}`;
  });
  return `usage: ${synopsis(command)}\n\n${spec.summary}\n\noptions:\n${rows.join('\n')}\n`;
}

export function usage(): string {
  return `corpus-lab — train a small GPT on a text file, on the CPU

usage:
${Object.keys(COMMANDS)
  .map((c) => '  ' + synopsis(c).replace(/\n/g, '\n  '))
  .join('\n')}

corpus-lab COMMAND --help explains a command and each of its options.
Runs are written to ./.corpus-lab/runs/<time>-<name>/ unless -o names a folder.
Exit codes: 0 success, 2 a problem with the input (one line on stderr), 130 interrupted.
`;
}
