import { parseJsonObject } from './json';
import { ModelConfig } from './model-config';
import { CorpusLabExtra, fromGpt2ConfigJson, toGpt2ConfigJson } from './gpt2-config';
import { fromLlamaConfigJson, isLlamaFamily, toLlamaConfigJson } from './llama-config';

/** config.json of a model of any family we write: GPT-2's (or Dynamic Tanh's), or its Llama family's. */
export function toModelConfigJson(
  c: ModelConfig,
  extra: Omit<CorpusLabExtra, 'format_version' | 'norm' | 'bias'>,
  eosTokenId?: number,
): string {
  return c.llama ? toLlamaConfigJson(c, extra, eosTokenId) : toGpt2ConfigJson(c, extra, eosTokenId);
}

/** A config.json we wrote (or transformers did), read by its model_type (untrusted input). */
export function fromModelConfigJson(text: string, source: string): ModelConfig {
  return isLlamaFamily(parseJsonObject(text, source).model_type) ? fromLlamaConfigJson(text, source) : fromGpt2ConfigJson(text, source);
}
