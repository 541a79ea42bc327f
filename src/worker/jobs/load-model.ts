import { startEngine, BackendChoice, EngineInfo, tf } from '../engine/backend';
import { engineDestination } from '../engine/engine-destination';
import { ModelConfig } from '../../core/model-config';
import { NamedTensors } from '../../core/tensor';
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
 * a BF16 folder stays BF16 on the native engine), a Llama-family folder's weights read straight
 * into the engine.
 */
export async function loadModel(path: string, backend: BackendChoice = 'auto', base?: string): Promise<LoadedModel> {
  const dir = resolveCheckpoint(path);
  const engine = await startEngine(backend);
  const { files, model } = frozenModel((destination) => readModelFolder(dir, base, destination));
  return { checkpoint: dir, model, tokenizer: files.tokenizer, engine, kind: files.kind };
}

/**
 * A frozen model of the weights `read` gives, those it can read straight into the engine's memory
 * (engine-destination.ts) put there: the file's bytes are not held twice while it loads.
 */
export function frozenModel<Files extends { config: ModelConfig; weights: NamedTensors }>(
  read: (destination: ReturnType<typeof engineDestination>) => Files,
): { files: Files; model: Gpt } {
  const held = new Map<string, tf.Tensor>();
  try {
    const files = read(engineDestination(held));
    return { files, model: Gpt.frozen(files.config, files.weights, held) };
  } catch (e) {
    tf.dispose([...held.values()]);
    throw e;
  }
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
