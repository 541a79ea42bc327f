import { existsSync } from 'node:fs';
import { UserError } from './errors';
import { ModelConfig } from './model-config';
import { NamedTensors } from './tensor';
import { encodeSafetensors } from './safetensors';
import { toModelConfigJson } from './model-config-json';
import { endOfText, hfSideFiles, refuseDytExport } from './hf-export';
import { INT8_WEIGHTS_FILE, Int8Scheme, encodeInt8Weights } from './int8';
import { writeDirAtomic } from './atomic-write';
import { checkOutputPath } from './output-path';
import { resolveCheckpoint } from './checkpoint';
import { readModelFolder } from './model-folder';
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
  base: string;
  out: string;
  modules: number;
  r: number;
  alpha: number;
  scale: number;
  bytes: number;
}

/** `merge`: an adapter (or the newest checkpoint of an adapter run) merged onto its base, as a plain GPT-2 folder. */
export function mergeAdapter(adapterPath: string, out: string, tokenizerKind: (json: string) => string, base?: string): MergeResult {
  const dir = resolveCheckpoint(adapterPath);
  if (!existsSync(join(dir, ADAPTER_CONFIG_FILE)))
    throw new UserError('{0} is not a LoRA adapter (no {1}): nothing to merge', adapterPath, ADAPTER_CONFIG_FILE);
  const target = checkOutputPath(out, 'new-folder');
  const merged = readModelFolder(dir, base);
  const settings = readAdapterSettings(join(dir, ADAPTER_CONFIG_FILE));
  const files = gpt2FolderFiles(
    {
      config: merged.config,
      weights: merged.weights,
      tokenizerJson: merged.tokenizerJson,
      tokenizerKind: tokenizerKind(merged.tokenizerJson),
    },
    { merged_from: { adapter: dir, base: merged.base!.dir } },
  );
  writeDirAtomic(target, files);
  return {
    adapter: dir,
    base: merged.base!.dir,
    out: target,
    modules: [...merged.weights.keys()].filter((n, _i) => merged.base!.weights.get(n) !== merged.weights.get(n)).length,
    r: settings.r,
    alpha: settings.alpha,
    scale: loraScale(settings),
    bytes: (files['model.safetensors'] as Buffer).length,
  };
}
