import { startEngine, BackendChoice, EngineInfo } from '../engine/backend';
import { Gpt } from '../model/gpt';
import { resolveCheckpoint } from '../../core/checkpoint';
import { ModelFolderKind, readModelFolder } from '../../core/model-folder';
import { Tokenizer } from '../../core/tokenizer';
import { parameterCount } from '../../core/weight-table';

export interface LoadedModel {
  checkpoint: string;
  model: Gpt;
  tokenizer: Tokenizer;
  engine: EngineInfo;
  kind: ModelFolderKind;
}

/**
 * Loads a checkpoint (or a run's newest one), a Hugging Face GPT-2 folder, an int8 checkpoint or a
 * LoRA adapter (merged onto its base; `base` names it when the adapter does not) with its own
 * tokenizer, checking they belong together. The model is for looking and completing (Gpt.frozen:
 * a BF16 folder stays BF16 on the native engine).
 */
export async function loadModel(path: string, backend: BackendChoice = 'auto', base?: string): Promise<LoadedModel> {
  const dir = resolveCheckpoint(path);
  const ckpt = readModelFolder(dir, base);
  const engine = await startEngine(backend);
  return { checkpoint: dir, model: Gpt.frozen(ckpt.config, ckpt.weights), tokenizer: ckpt.tokenizer, engine, kind: ckpt.kind };
}

/** What the editor shows of a model it opened. */
export interface ModelSummary {
  dir: string;
  kind: ModelFolderKind;
  params: number;
  layers: number;
  heads: number;
  width: number;
  context: number;
  vocabSize: number;
  tokenizer: string;
}

export function summarizeModel(m: LoadedModel): ModelSummary {
  const c = m.model.config;
  return {
    dir: m.checkpoint,
    kind: m.kind,
    params: parameterCount(c),
    layers: c.layers,
    heads: c.heads,
    width: c.width,
    context: c.context,
    vocabSize: c.vocabSize,
    tokenizer: m.tokenizer.kind,
  };
}
