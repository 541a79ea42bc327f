import { existsSync } from 'node:fs';
import { UserError } from './errors';
import { ModelConfig } from './model-config';
import { NamedTensors } from './tensor';
import { encodeSafetensors } from './safetensors';
import { toModelConfigJson } from './model-config-json';
import { endOfText, hfSideFiles, keptTokenizerFiles, refuseDytExport } from './hf-export';
import { INT8_WEIGHTS_FILE, Int8Scheme, encodeInt8Weights } from './int8';
import { writeDirAtomic } from './atomic-write';
import { checkOutputPath } from './output-path';
import { resolveCheckpoint } from './checkpoint';
import { ModelFiles, readModelFolder } from './model-folder';
import { readLlamaWeights } from './llama-folder';
import { LLAMA_ARCHITECTURES, fromLlamaConfigJson } from './llama-config';
import { hfWeightHeaders } from './hf-weights';
import { readRegularFile } from './safe-fs';
import { loraScale, readAdapterSettings, ADAPTER_CONFIG_FILE } from './lora-adapter';
import { withZeroBiases } from './checkpoint';
import { join } from 'node:path';

export interface ExportedModel {
  config: ModelConfig;
  weights: NamedTensors;
  tokenizerJson: string;
  tokenizerKind: string;
}

/** A plain Hugging Face GPT-2 folder (what GPT2LMHeadModel.from_pretrained loads): no training state. */
export function gpt2FolderFiles(m: ExportedModel, extra: Record<string, unknown> = {}): Record<string, Buffer | string> {
  refuseDytExport(m.config, 'cannot write a Hugging Face GPT-2 folder');
  return {
    'model.safetensors': encodeSafetensors(withZeroBiases(m.config, m.weights), { format: 'pt' }),
    'config.json': toModelConfigJson(m.config, { tokenizer_kind: m.tokenizerKind, ...extra }, endOfText(m.tokenizerJson)?.id),
    'tokenizer.json': m.tokenizerJson,
    ...hfSideFiles(m.config, m.tokenizerJson),
  };
}

/** An int8 checkpoint folder (core/int8.ts describes the weights file). */
export function int8FolderFiles(m: ExportedModel, scheme: Int8Scheme): Record<string, Buffer | string> {
  return {
    [INT8_WEIGHTS_FILE]: encodeInt8Weights(m.config, m.weights, scheme),
    'config.json': toModelConfigJson(
      m.config,
      { tokenizer_kind: m.tokenizerKind, quantization: { scheme, weights_file: INT8_WEIGHTS_FILE } },
      endOfText(m.tokenizerJson)?.id,
    ),
    'tokenizer.json': m.tokenizerJson,
    ...hfSideFiles(m.config, m.tokenizerJson),
  };
}

export interface MergeResult {
  adapter: string;
  /** The merged folder's class in transformers (GPT2LMHeadModel, Qwen2ForCausalLM …). */
  architecture: string;
  base: string;
  out: string;
  modules: number;
  r: number;
  alpha: number;
  scale: number;
  bytes: number;
}

/**
 * `merge`: an adapter (or the newest checkpoint of an adapter run) merged onto its base, as a plain
 * folder of the base's family: GPT-2's, or the base's Llama-family folder with merged weights.
 */
export function mergeAdapter(adapterPath: string, out: string, tokenizerKind: (json: string) => string, base?: string): MergeResult {
  const dir = resolveCheckpoint(adapterPath);
  if (!existsSync(join(dir, ADAPTER_CONFIG_FILE)))
    throw new UserError('{0} is not a LoRA adapter (no {1}): nothing to merge', adapterPath, ADAPTER_CONFIG_FILE);
  const target = checkOutputPath(out, 'new-folder');
  const merged = readModelFolder(dir, base);
  const settings = readAdapterSettings(join(dir, ADAPTER_CONFIG_FILE));
  const exported = {
    config: merged.config,
    weights: merged.weights,
    tokenizerJson: merged.tokenizerJson,
    tokenizerKind: tokenizerKind(merged.tokenizerJson),
  };
  const mergedFrom = { merged_from: { adapter: dir, base: merged.base!.dir } };
  // The base's special tokens and chat template go along, so the merged model chats as its base did.
  const files = merged.config.llama
    ? merged.base!.kind === 'huggingface'
      ? llamaFolderMerged(merged)
      : { ...llamaFolderFiles(exported, mergedFrom), ...keptTokenizerFiles(merged.base!.dir) }
    : { ...gpt2FolderFiles(exported, mergedFrom), ...keptTokenizerFiles(merged.base!.dir) };
  writeDirAtomic(target, files);
  return {
    adapter: dir,
    architecture: merged.config.llama ? LLAMA_ARCHITECTURES[merged.config.llama.family] : 'GPT2LMHeadModel',
    base: merged.base!.dir,
    out: target,
    modules: adaptedWeights(merged).length,
    r: settings.r,
    alpha: settings.alpha,
    scale: loraScale(settings),
    bytes: (files['model.safetensors'] as Buffer).length,
  };
}

/** The weights an adapter changed (readModelFolder keeps the base's own objects for the rest). */
const adaptedWeights = (merged: ModelFiles) =>
  [...merged.weights.keys()].filter((n) => merged.base!.weights.get(n) !== merged.weights.get(n));

/** A Llama-family folder of ours (config.json as transformers writes it for the family), in float32. */
function llamaFolderFiles(m: ExportedModel, extra: Record<string, unknown>): Record<string, Buffer | string> {
  return {
    'model.safetensors': encodeSafetensors(m.weights, { format: 'pt' }),
    'config.json': toModelConfigJson(m.config, { tokenizer_kind: m.tokenizerKind, ...extra }, endOfText(m.tokenizerJson)?.id),
    'tokenizer.json': m.tokenizerJson,
    ...hfSideFiles(m.config, m.tokenizerJson),
  };
}

/**
 * A Hugging Face Llama-family base with the adapter merged: its config.json and tokenizer files as
 * they are, every tensor as stored (padded embedding rows too) in its own dtype — a BF16 base gives
 * BF16 weights, the merged ones rounded to nearest even — in one model.safetensors.
 */
function llamaFolderMerged(merged: ModelFiles): Record<string, Buffer | string> {
  const baseDir = merged.base!.dir;
  const configPath = join(baseDir, 'config.json');
  const configText = readRegularFile(configPath);
  const stored = fromLlamaConfigJson(configText, configPath);
  // The base as read dropped its padded embedding rows (llama-folder.ts dropPaddedRows): read them again.
  const weights = stored.vocabSize === merged.config.vocabSize ? new Map(merged.weights) : readLlamaWeights(baseDir, stored);
  for (const name of adaptedWeights(merged)) weights.set(name, merged.weights.get(name)!);
  const half = new Map<string, 'BF16' | 'F16'>();
  for (const [name, { dtype }] of hfWeightHeaders(baseDir))
    if (weights.has(name) && (dtype === 'BF16' || dtype === 'F16')) half.set(name, dtype);
  const files: Record<string, Buffer | string> = {
    'model.safetensors': encodeSafetensors(weights, { format: 'pt' }, new Map(), half),
    'config.json': configText,
  };
  return { ...files, 'tokenizer.json': merged.tokenizerJson, ...keptTokenizerFiles(baseDir) };
}
