import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from './errors';
import { readRegularFile } from './safe-fs';
import { ModelConfig } from './model-config';
import { NamedTensors } from './tensor';
import { encodeSafetensors, readSafetensors } from './safetensors';
import { writeDirAtomic, removeStaleTemps } from './atomic-write';
import { ADAPTER_CHECKPOINT_FILES, TrainerState, checkTensors, parseTrainerState } from './checkpoint';
import { BaseRecord, LoraAdapter, adapterFiles, loraParamName, readAdapter } from './lora-adapter';
import { checkAdapterBase } from './adapter-base';

/**
 * A checkpoint of a LoRA run: a PEFT adapter folder (adapter_model.safetensors, adapter_config.json,
 * adapter_base.json) plus what resuming needs — the tokenizer, trainer_state.json and AdamW's
 * moments of the adapter matrices (keys m.<module>.lora_A.weight …). readModelFolder loads it as
 * the base with the adapter merged.
 */
export interface AdapterCheckpointContents {
  adapter: LoraAdapter;
  base: BaseRecord;
  optimizer: NamedTensors;
  trainerState: TrainerState;
  tokenizerJson: string;
}

export function writeAdapterCheckpoint(runDir: string, name: string, c: AdapterCheckpointContents): string {
  const parent = join(runDir, 'checkpoints');
  removeStaleTemps(parent);
  const dir = join(parent, name);
  writeDirAtomic(dir, {
    ...adapterFiles(c.adapter, c.base),
    'tokenizer.json': c.tokenizerJson,
    'optimizer.safetensors': encodeSafetensors(c.optimizer, { format: 'corpus-lab-adamw' }),
    'trainer_state.json': JSON.stringify(c.trainerState, null, 2) + '\n',
  });
  return dir;
}

/** The adapter's matrices by module, from the model's trainable weights (gpt.ts names them with loraParamName). */
export function adapterLayers(modules: string[], weights: NamedTensors): LoraAdapter['layers'] {
  return new Map(modules.map((m) => [m, { a: weights.get(loraParamName(m, 'A'))!, b: weights.get(loraParamName(m, 'B'))! }]));
}

/** Reads a LoRA checkpoint to resume it (every file untrusted): the adapter, its base record (checked unchanged), optimizer and state. */
export function readAdapterCheckpoint(
  dir: string,
  base: ModelConfig,
): { adapter: LoraAdapter; base: BaseRecord; optimizer: NamedTensors; trainerState: TrainerState } {
  for (const f of ADAPTER_CHECKPOINT_FILES)
    if (!existsSync(join(dir, f))) throw new UserError('{0} is not a complete LoRA checkpoint: {1} is missing', dir, f);
  const record = checkAdapterBase(dir);
  const adapter = readAdapter(dir, base);
  const moments = new Map<string, number[]>();
  for (const [m, { a, b }] of adapter.layers) {
    for (const key of ['m', 'v']) {
      moments.set(`${key}.${loraParamName(m, 'A')}`, a.shape);
      moments.set(`${key}.${loraParamName(m, 'B')}`, b.shape);
    }
  }
  const path = join(dir, 'optimizer.safetensors');
  const optimizer = readSafetensors(path, { check: (header) => checkTensors(header, moments, path) }).tensors;
  return {
    adapter,
    base: record,
    optimizer,
    trainerState: parseTrainerState(readRegularFile(join(dir, 'trainer_state.json')), join(dir, 'trainer_state.json')),
  };
}
