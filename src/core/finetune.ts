import { Message, UserError, message } from './errors';
import { Rng, mixSeed } from './rng';
import { ModelConfig } from './model-config';
import { HostTensor, NamedTensors } from './tensor';
import { fillWindows } from './batches';
import { TokenReader } from './prepared/token-file';
import { LoraSettings } from './lora-adapter';
import { embeddingWeight, modelNames, weightTable } from './weight-table';

/**
 * Fine-tuning a model brought from elsewhere (docs/DESIGN.md §5b): what a run records of it in
 * run.json, and the pure parts — the vocabulary pre-flight of char models, replayed old text.
 */
export interface FinetuneRecord {
  /** The base model folder (a checkpoint, a Hugging Face folder …), absolute. */
  base: string;
  lora?: LoraSettings;
  /** Share of the batch rows drawn from the base's own corpus (when it is known). */
  replay: number;
  unseen: UnseenPolicy;
  /** The base's corpus, when it is known and unchanged: the forgetting meter's text. */
  base_corpus?: { path: string; sha256: string };
}

export type UnseenPolicy = 'unk' | 'extend';
export const UNSEEN_POLICIES: readonly UnseenPolicy[] = ['unk', 'extend'];

/**
 * Default peak learning rates. Full: a tenth of from-scratch (1e-3): the weights are already good,
 * and a high re-warmed rate forgets more of the base (Ibrahim et al. 2024, arXiv 2403.08763).
 * LoRA: the from-scratch rate; its best rate is about ten times full fine-tuning's
 * (Biderman et al. 2024, arXiv 2405.09673), and B starts at zero.
 */
export const FINETUNE_LR = { full: 1e-4, lora: 1e-3 } as const;
export const DEFAULT_REPLAY = 0.05;

/**
 * The default training window of a big base (Hugging Face GPT-2s have n_positions 1024): a step
 * costs about batch × context tokens of compute, plus attention growing with context², so GPT-2's
 * own 1024 × a batch of 12 (12,288 tokens a step) takes minutes per step on a laptop CPU. Bases with
 * a context above `context` train on windows of 256 tokens, 4 per batch: 1,024 tokens a step, the
 * order of the tiny preset's 768, so steps take seconds; 256 BPE tokens are still about 190 English
 * words, several sentences of the document's style. The model keeps all its positions (LoRA leaves
 * them untouched; full fine-tuning updates the first 256). `--context` and `--batch` override.
 */
export const BIG_BASE_WINDOW = { context: 256, batch: 4 } as const;

/** Training window and batch of a fine-tuning run: the asked ones, else the base run's, else the defaults above. */
export function finetuneShape(
  modelContext: number,
  asked: { context?: number; batch?: number },
  baseRunBatch?: number,
): { context: number; batch: number } {
  const big = modelContext > BIG_BASE_WINDOW.context;
  const context = asked.context ?? (big ? BIG_BASE_WINDOW.context : modelContext);
  const batch = asked.batch ?? (big ? BIG_BASE_WINDOW.batch : (baseRunBatch ?? DEFAULT_BATCH));
  return { context, batch };
}

const DEFAULT_BATCH = 12;
export const DEFAULT_LORA_TARGETS = ['c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'];
/** Llama-family blocks: every projection, as PEFT's all-linear takes them (QLoRA's finding: adapting every layer matters most). */
export const DEFAULT_LLAMA_LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

/** The modules LoRA adapts when the user names none. */
export function defaultLoraTargets(c: ModelConfig): string[] {
  return c.llama ? DEFAULT_LLAMA_LORA_TARGETS : DEFAULT_LORA_TARGETS;
}

export interface UnseenCharacters {
  /** Characters of the text the vocabulary lacks, most frequent first. */
  chars: { char: string; count: number }[];
  /** Their occurrences over the text's characters. */
  share: number;
}

/** The characters of `text` a char vocabulary lacks (they would all become <unk>). */
export function unseenCharacters(vocab: ReadonlySet<string>, text: string): UnseenCharacters {
  const counter = new UnseenCounter(vocab);
  counter.add(text);
  return counter.result();
}

/** unseenCharacters of a text read a piece at a time. */
export class UnseenCounter {
  private readonly counts = new Map<string, number>();
  private total = 0;

  constructor(private readonly vocab: ReadonlySet<string>) {}

  add(text: string): void {
    for (const ch of text) {
      this.total++;
      if (!this.vocab.has(ch)) this.counts.set(ch, (this.counts.get(ch) ?? 0) + 1);
    }
  }

  result(): UnseenCharacters {
    const chars = [...this.counts]
      .map(([char, count]) => ({ char, count }))
      .sort((a, b) => b.count - a.count || a.char.localeCompare(b.char));
    const unseen = chars.reduce((n, c) => n + c.count, 0);
    return { chars, share: this.total === 0 ? 0 : unseen / this.total };
  }
}

/** One line for the user: how many, how much of the text, the commonest few. */
export function describeUnseen(u: UnseenCharacters, policy: UnseenPolicy): Message {
  const shown = u.chars
    .slice(0, 12)
    .map((c) => `${JSON.stringify(c.char)} ×${c.count}`)
    .join(', ');
  const args = [u.chars.length, (u.share * 100).toFixed(2), shown, u.chars.length > 12 ? ', …' : ''];
  return policy === 'unk'
    ? message("{0} character(s) of the new text are not in the model's vocabulary ({1}% of the text), mapped to <unk>: {2}{3}", ...args)
    : message(
        "{0} character(s) of the new text are not in the model's vocabulary ({1}% of the text), added to the vocabulary (new embedding rows): {2}{3}",
        ...args,
      );
}

/** The vocabulary of a Corpus Lab char tokenizer.json (token → id). */
export function charVocabulary(tokenizerJson: string): Map<string, number> {
  const vocab = (JSON.parse(tokenizerJson) as { model: { vocab: Record<string, number> } }).model.vocab;
  return new Map(Object.entries(vocab));
}

/** A char tokenizer.json with `chars` appended (new ids after the old ones, which keep theirs). */
export function extendCharTokenizer(tokenizerJson: string, chars: string[]): string {
  const json = JSON.parse(tokenizerJson) as { model: { vocab: Record<string, number> } };
  let next = Object.keys(json.model.vocab).length;
  for (const c of chars) json.model.vocab[c] = next++;
  return JSON.stringify(json);
}

/**
 * Weights with `rows` new tokens: new rows of the token embedding (and of an output head of its
 * own, Llama-family), drawn as the weight table initialises them (N(0, 0.02)).
 */
export function extendEmbedding(
  config: ModelConfig,
  weights: NamedTensors,
  rows: number,
  seed: number,
): { config: ModelConfig; weights: NamedTensors } {
  const grown = { ...config, vocabSize: config.vocabSize + rows };
  const table = weightTable(grown);
  const { head } = modelNames(config);
  const rng = new Rng(mixSeed(seed, 0xe3b));
  const out: NamedTensors = new Map(weights);
  for (const name of [embeddingWeight(config), ...(head ? [`${head}.weight`] : [])]) {
    const init = table.get(name)!.init;
    if (!('normal' in init)) throw new Error(`internal: ${name} is not drawn from a normal distribution`);
    const old = weights.get(name)!;
    const data = new Float32Array(grown.vocabSize * config.width);
    data.set(old.data);
    for (let i = old.data.length; i < data.length; i++)
      data[i] = init.normal * Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
    out.set(name, { shape: [grown.vocabSize, config.width], data } satisfies HostTensor);
  }
  return { config: grown, weights: out };
}

/**
 * Replay (Ibrahim et al. 2024): each row of a batch is, with probability `fraction`, a window of
 * the base's own training text instead. Deterministic by (seed, step, row). Returns rows replaced.
 */
export function replayRows(
  old: Int32Array | TokenReader,
  fraction: number,
  seed: number,
  step: number,
  batch: number,
  context: number,
  inputs: Int32Array,
  targets: Int32Array,
): number {
  if (fraction <= 0 || old.length < context + 1) return 0;
  const rng = new Rng(mixSeed(seed, step, 0x4e91));
  let n = 0;
  for (let row = 0; row < batch; row++) {
    if (rng.next() >= fraction) continue;
    const start = rng.below(old.length - context);
    fillWindows(old, [start], context, inputs.subarray(row * context), targets.subarray(row * context));
    n++;
  }
  return n;
}

export function checkReplay(fraction: number): number {
  if (!(fraction >= 0 && fraction <= 0.5)) throw new UserError('--replay must be a fraction from 0 to 0.5 (got {0})', fraction);
  return fraction;
}
