import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from './errors';
import { readRegularFile } from './safe-fs';
import { ModelConfig } from './model-config';
import { NamedTensors, refuseNonFinite } from './tensor';
import { readCheckpoint, resolveCheckpoint } from './checkpoint';
import { fromGpt2ConfigJson } from './gpt2-config';
import { HF_WEIGHTS_FILE, readHfFolder } from './hf-folder';
import { INT8_WEIGHTS_FILE, Int8Scheme, readInt8Weights } from './int8';
import { modelTokenizer } from './model-tokenizer';
import type { Tokenizer } from './tokenizer';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, checkAdapterBase, mergeLora, readAdapter } from './lora-adapter';

/**
 * What a model folder is: a Corpus Lab training checkpoint, a Hugging Face GPT-2-family folder
 * (also what `merge` writes), an int8 checkpoint (`quantize`), or a LoRA adapter on a base.
 */
export type ModelFolderKind = 'checkpoint' | 'huggingface' | 'int8' | 'adapter';

/** A model ready for inference: fp32 weights under our GPT-2 names, its config and tokenizer. */
export interface ModelFiles {
  dir: string;
  kind: ModelFolderKind;
  config: ModelConfig;
  weights: NamedTensors;
  tokenizerJson: string;
  /** tokenizer.json (an adapter's: its base's), checked to fit the model. */
  tokenizer: Tokenizer;
  /** The file holding the weights (int8: the quantized file; adapter: the adapter's). */
  weightsFile: string;
  int8Scheme?: Int8Scheme;
  /** adapter: the base it was merged onto. */
  base?: ModelFiles;
}

export function modelFolderKind(dir: string): ModelFolderKind {
  if (existsSync(join(dir, ADAPTER_CONFIG_FILE)) || existsSync(join(dir, ADAPTER_WEIGHTS_FILE))) return 'adapter';
  if (existsSync(join(dir, INT8_WEIGHTS_FILE))) return 'int8';
  if (existsSync(join(dir, 'trainer_state.json'))) return 'checkpoint';
  return 'huggingface';
}

/** The file whose change means the model changed (for caches). */
export function modelWeightsFile(dir: string): string {
  switch (modelFolderKind(dir)) {
    case 'adapter':
      return join(dir, ADAPTER_WEIGHTS_FILE);
    case 'int8':
      return join(dir, INT8_WEIGHTS_FILE);
    default:
      return join(dir, HF_WEIGHTS_FILE);
  }
}

/** The tokenizer.json of the model at `path` (an adapter without its own copy: its base's). */
export function modelTokenizerFile(path: string): string {
  const dir = resolveCheckpoint(path);
  const own = join(dir, 'tokenizer.json');
  if (existsSync(own) || modelFolderKind(dir) !== 'adapter') return own;
  return join(checkAdapterBase(dir).path, 'tokenizer.json');
}

/** A key that changes when the model at `path` (run or folder) changes: the folder and its weights' mtime. */
export function modelCacheKey(path: string): { dir: string; key: string } {
  const dir = resolveCheckpoint(path);
  const file = modelWeightsFile(dir);
  let mtime = 0;
  try {
    mtime = statSync(file).mtimeMs;
  } catch {
    // Missing: the load that follows says why.
  }
  return { dir, key: `${dir}@${mtime}` };
}

/**
 * Reads any model folder for inference (eval, generate, completion, token views). Every file is
 * untrusted; an adapter is merged onto its base after checking the base is unchanged.
 */
export function readModelFolder(dir: string, depth = 0): ModelFiles {
  const kind = modelFolderKind(dir);
  switch (kind) {
    case 'checkpoint': {
      const c = readCheckpoint(dir, { withOptimizer: false });
      const { config, weights, tokenizerJson, tokenizer } = c;
      return { dir, kind, config, weights, tokenizerJson, tokenizer, weightsFile: join(dir, HF_WEIGHTS_FILE) };
    }
    case 'huggingface': {
      const c = readHfFolder(dir);
      return { dir, kind, ...c, weightsFile: join(dir, HF_WEIGHTS_FILE) };
    }
    case 'int8': {
      for (const f of ['config.json', 'tokenizer.json'])
        if (!existsSync(join(dir, f))) throw new UserError('{0} is not a complete int8 checkpoint: {1} is missing', dir, f);
      const config = fromGpt2ConfigJson(readRegularFile(join(dir, 'config.json')), join(dir, 'config.json'));
      const tokenizerJson = readRegularFile(join(dir, 'tokenizer.json'));
      const tokenizer = modelTokenizer(tokenizerJson, config, join(dir, 'tokenizer.json'));
      const weightsFile = join(dir, INT8_WEIGHTS_FILE);
      const { weights, scheme } = readInt8Weights(weightsFile, config);
      return { dir, kind, config, weights, tokenizerJson, tokenizer, weightsFile, int8Scheme: scheme };
    }
    case 'adapter': {
      if (depth > 0) throw new UserError("{0}: an adapter's base is itself an adapter; merge that one first", dir);
      for (const f of [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE])
        if (!existsSync(join(dir, f))) throw new UserError('{0} is not a complete LoRA adapter: {1} is missing', dir, f);
      const record = checkAdapterBase(dir);
      const base = readModelFolder(record.path, depth + 1);
      if (base.config.norm === 'dyt')
        throw new UserError("{0}: the base uses Dynamic Tanh, which PEFT's GPT-2 adapters cannot describe", dir);
      const adapter = readAdapter(dir, base.config);
      const weights = mergeLora(base.weights, adapter);
      const mergedNames = new Set([...adapter.layers.keys()].map((m) => `${m}.weight`));
      refuseNonFinite(
        new Map([...weights].filter(([name]) => mergedNames.has(name))),
        `${join(dir, ADAPTER_WEIGHTS_FILE)} merged onto its base`,
      );
      return {
        dir,
        kind,
        config: base.config,
        weights,
        tokenizerJson: base.tokenizerJson,
        tokenizer: base.tokenizer,
        weightsFile: join(dir, ADAPTER_WEIGHTS_FILE),
        base,
      };
    }
  }
}
