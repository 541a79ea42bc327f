import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isObject, parseJsonObject } from './json';
import { readRegularFile } from './safe-fs';
import { ModelConfig } from './model-config';
import { UserError } from './errors';

/** Special tokens Hugging Face tools look for, by the names GPT-2-family tokenizers give them. */
const END_OF_TEXT_NAMES = ['<|endoftext|>', '</s>', '<eos>'];

/** The tokenizer's end-of-text token (an added token), if it has one. */
export function endOfText(tokenizerJson: string): { id: number; content: string } | undefined {
  const raw = parseJsonObject(tokenizerJson, 'tokenizer.json');
  if (!Array.isArray(raw.added_tokens)) return undefined;
  for (const name of END_OF_TEXT_NAMES) {
    const t = (raw.added_tokens as unknown[]).find((a) => isObject(a) && a.content === name && Number.isInteger(a.id));
    if (t) return { id: (t as { id: number }).id, content: name };
  }
  return undefined;
}

function unknownToken(tokenizerJson: string): string | undefined {
  const raw = parseJsonObject(tokenizerJson, 'tokenizer.json');
  return isObject(raw.model) && typeof raw.model.unk_token === 'string' ? raw.model.unk_token : undefined;
}

/**
 * tokenizer_config.json and generation_config.json: with config.json and tokenizer.json, what
 * `AutoTokenizer.from_pretrained` and `model.generate` read, so the folder loads as a whole.
 * The tokenizer is the fast one built from tokenizer.json alone (no vocab.json/merges.txt needed).
 */
export function hfSideFiles(
  config: ModelConfig,
  tokenizerJson: string,
): Record<'tokenizer_config.json' | 'generation_config.json', string> {
  const eos = endOfText(tokenizerJson);
  const unk = unknownToken(tokenizerJson);
  const tokenizerConfig: Record<string, unknown> = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    model_max_length: config.context,
    clean_up_tokenization_spaces: false,
  };
  if (eos !== undefined) {
    tokenizerConfig.bos_token = eos.content;
    tokenizerConfig.eos_token = eos.content;
  }
  if (unk !== undefined) tokenizerConfig.unk_token = unk;
  const generation: Record<string, unknown> = { _from_model_config: true, max_length: config.context };
  if (eos !== undefined) {
    generation.bos_token_id = eos.id;
    generation.eos_token_id = eos.id;
  }
  return {
    'tokenizer_config.json': JSON.stringify(tokenizerConfig, null, 2) + '\n',
    'generation_config.json': JSON.stringify(generation, null, 2) + '\n',
  };
}

/** GPT-2 and PEFT have no Dynamic Tanh: such a model cannot be exported in their formats. */
export function refuseDytExport(config: ModelConfig, what: string): void {
  if (config.norm === 'dyt') {
    throw new UserError(
      '{0}: this model uses Dynamic Tanh instead of LayerNorm, which GPT-2 (and so Hugging Face and PEFT tools) cannot represent',
      what,
    );
  }
}

/** Where transformers (4.43 and later) writes a model's chat template. */
export const CHAT_TEMPLATE_FILE = 'chat_template.jinja';

/**
 * The files of a Hugging Face folder besides its weights, config.json and tokenizer.json that a
 * model made from it (a fine-tune, a merge, an int8 copy) keeps as they are: its special tokens and
 * chat template (chat_template.jinja, or chat_template in tokenizer_config.json) and how it generates.
 */
const KEPT_TOKENIZER_FILES = ['tokenizer_config.json', 'special_tokens_map.json', CHAT_TEMPLATE_FILE, 'generation_config.json'];

/** Those of KEPT_TOKENIZER_FILES that `dir` has, by name, with their contents. */
export function keptTokenizerFiles(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const f of KEPT_TOKENIZER_FILES) if (existsSync(join(dir, f))) files[f] = readRegularFile(join(dir, f));
  return files;
}
