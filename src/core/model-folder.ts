import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UserError, isUserError } from './errors';
import { readRegularFile } from './safe-fs';
import { ModelConfig } from './model-config';
import { NamedTensors, refuseNonFinite } from './tensor';
import { readCheckpoint, resolveCheckpoint } from './checkpoint';
import { isLegacyDytConfig } from './gpt2-config';
import { fromModelConfigJson } from './model-config-json';
import { WeightDestination } from './llama-folder';
import { HF_WEIGHTS_FILE, readHfFolder } from './hf-folder';
import { hfWeightFiles, hfWeightsFile } from './hf-weights';
import { INT8_WEIGHTS_FILE, Int8Scheme, readInt8Weights } from './int8';
import { modelTokenizer } from './model-tokenizer';
import type { Tokenizer } from './tokenizer';
import {
  ADAPTER_BASE_FILE,
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  baseRecord,
  mergeLora,
  readAdapter,
  readAdapterSettings,
} from './lora-adapter';
import { adapterBaseDir } from './adapter-base';
import { writeFileAtomic } from './atomic-write';

/**
 * What a model folder is: a Corpus Lab training checkpoint, a Hugging Face folder (GPT-2, also
 * what `merge` writes, or a Llama-family model), an int8 checkpoint (`quantize`), or a LoRA adapter on a base.
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

/** The files whose change means the model changed (for caches): its weights, or a sharded folder's index and shards. */
export function modelWeightsFiles(dir: string): string[] {
  switch (modelFolderKind(dir)) {
    case 'adapter':
      return [join(dir, ADAPTER_WEIGHTS_FILE)];
    case 'int8':
      return [join(dir, INT8_WEIGHTS_FILE)];
    case 'huggingface':
      return hfWeightFiles(dir);
    default:
      return [join(dir, HF_WEIGHTS_FILE)];
  }
}

/** The tokenizer.json of the model at `path` (an adapter without its own copy: its base's; `base` as readModelFolder). */
export function modelTokenizerFile(path: string, base?: string): string {
  const dir = resolveCheckpoint(path);
  const own = join(dir, 'tokenizer.json');
  if (existsSync(own) || modelFolderKind(dir) !== 'adapter') return own;
  return join(adapterBaseDir(dir, base), 'tokenizer.json');
}

/** A key that changes when the model at `path` (run or folder) changes: the folder and its weight files' mtimes. */
export function modelCacheKey(path: string): { dir: string; key: string } {
  const dir = resolveCheckpoint(path);
  const mtimes: number[] = [];
  try {
    for (const file of modelWeightsFiles(dir)) mtimes.push(statSync(file).mtimeMs);
  } catch {
    // Missing or malformed: the load that follows says why.
  }
  return { dir, key: `${dir}@${mtimes.join(',')}` };
}

/**
 * Reads any model folder for inference (eval, generate, completion, token views). Every file is
 * untrusted; an adapter is merged onto its base (adapter-base.ts: which, and that it is unchanged;
 * `base` names it for an adapter that does not record it) after checking its shapes fit. A Llama-family
 * Hugging Face folder's weights go to `destination` where it takes them (then not in `weights`).
 */
export function readModelFolder(dir: string, base?: string, destination?: WeightDestination['destination']): ModelFiles {
  const kind = modelFolderKind(dir);
  if (base !== undefined && kind !== 'adapter') throw new UserError('{0} is not a LoRA adapter, so it takes no base model (--base)', dir);
  switch (kind) {
    case 'checkpoint': {
      const c = readCheckpoint(dir, { withOptimizer: false });
      const { config, weights, tokenizerJson, tokenizer } = c;
      return { dir, kind, config, weights, tokenizerJson, tokenizer, weightsFile: join(dir, HF_WEIGHTS_FILE) };
    }
    case 'huggingface': {
      const c = readHfFolder(dir, destination);
      return { dir, kind, ...c, weightsFile: hfWeightsFile(dir) };
    }
    case 'int8': {
      for (const f of ['config.json', 'tokenizer.json'])
        if (!existsSync(join(dir, f))) throw new UserError('{0} is not a complete int8 checkpoint: {1} is missing', dir, f);
      const configText = readRegularFile(join(dir, 'config.json'));
      const config = fromModelConfigJson(configText, join(dir, 'config.json'));
      const tokenizerJson = readRegularFile(join(dir, 'tokenizer.json'));
      const tokenizer = modelTokenizer(tokenizerJson, config, join(dir, 'tokenizer.json'));
      const weightsFile = join(dir, INT8_WEIGHTS_FILE);
      const legacyDyt = isLegacyDytConfig(configText, join(dir, 'config.json'));
      const { weights, scheme } = readInt8Weights(weightsFile, config, { legacyDyt });
      return { dir, kind, config, weights, tokenizerJson, tokenizer, weightsFile, int8Scheme: scheme };
    }
    case 'adapter': {
      for (const f of [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE])
        if (!existsSync(join(dir, f))) throw new UserError('{0} is not a complete LoRA adapter: {1} is missing', dir, f);
      readAdapterSettings(join(dir, ADAPTER_CONFIG_FILE)); // a bad config is refused before the base is read
      const baseDir = adapterBaseDir(dir, base);
      if (modelFolderKind(baseDir) === 'adapter')
        throw new UserError("{0}: an adapter's base is itself an adapter; merge that one first", dir);
      const baseFiles = readModelFolder(baseDir);
      if (baseFiles.config.norm === 'dyt')
        throw new UserError("{0}: the base uses Dynamic Tanh, which PEFT's GPT-2 adapters cannot describe", dir);
      const adapter = fitting(dir, baseDir, () => readAdapter(dir, baseFiles.config));
      const weights = mergeLora(baseFiles.weights, adapter);
      const mergedNames = new Set([...adapter.layers.keys()].map((m) => `${m}.weight`));
      refuseNonFinite(
        new Map([...weights].filter(([name]) => mergedNames.has(name))),
        `${join(dir, ADAPTER_WEIGHTS_FILE)} merged onto its base`,
      );
      return {
        dir,
        kind,
        config: baseFiles.config,
        weights,
        tokenizerJson: baseFiles.tokenizerJson,
        tokenizer: baseFiles.tokenizer,
        weightsFile: join(dir, ADAPTER_WEIGHTS_FILE),
        base: baseFiles,
      };
    }
  }
}

/** An adapter whose names or shapes do not fit its base: the error says which base it was checked against. */
function fitting<T>(dir: string, baseDir: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (isUserError(e)) throw new UserError('{0} does not fit the base model {1}: {2}', dir, baseDir, e.parts);
    throw e;
  }
}

/**
 * Records in a PEFT adapter's folder the base the user chose for it (adapter_base.json, with the
 * sha256 of its weights), after checking it fits, so every later use finds it and notices a change.
 */
export function recordAdapterBase(dir: string, base: string): void {
  const files = readModelFolder(dir, base);
  if (existsSync(join(dir, ADAPTER_BASE_FILE))) return;
  const baseFiles = files.base!;
  writeFileAtomic(join(dir, ADAPTER_BASE_FILE), JSON.stringify(baseRecord(baseFiles.dir, basename(baseFiles.weightsFile)), null, 2) + '\n');
}
