import { startEngine, BackendChoice } from '../engine/backend';
import { median, timeTrainingSteps } from '../bench/step-timer';
import { readCorpus } from '../../core/corpus';
import { Estimate, estimate } from '../../core/estimate';
import { MODEL_DEFAULTS, ModelConfig, presetNamed, validateModelConfig } from '../../core/model-config';
import { trainTokenizer, TokenizerKind, defaultBpeVocabSize } from '../../core/tokenizer';
import { DEFAULT_TRAIN_OPTIONS, validateTrainOptions } from '../../core/train-options';
import { makeTrainPlan } from '../../core/train-plan';

export interface EstimateRequest {
  corpusPath: string;
  preset?: string;
  tokenizer?: TokenizerKind;
  vocabSize?: number;
  context?: number;
  batch?: number;
  /** The run's length and learning rate, as a train request would give them (validated the same way). */
  epochs?: number;
  maxSteps?: number;
  lr?: number;
  backend?: BackendChoice;
  /** Steps to time after one warm-up step; 0 skips the measurement. */
  measureSteps?: number;
}

export interface EstimateResult extends Estimate {
  preset: string;
  tokens: number;
  totalSteps: number;
  config: ModelConfig;
  backend: string;
  threads: number;
  /** The native engine's BLAS library. */
  blas?: string;
  /** Why the native engine was not used (auto fell back). */
  nativeUnavailable?: string;
}

/**
 * What training this corpus with a preset would cost, before any long work: parameters, tokens,
 * memory, and time per epoch from a few steps timed on this machine.
 */
export async function runEstimateJob(req: EstimateRequest): Promise<EstimateResult> {
  const corpus = readCorpus(req.corpusPath);
  const kind = req.tokenizer ?? 'char';
  // A char vocabulary is cheap to count exactly; a BPE one has the size asked for.
  const vocabSize =
    kind === 'char' ? trainTokenizer(corpus.text, { kind }).vocabSize : (req.vocabSize ?? defaultBpeVocabSize(corpus.bytes));
  const tokens = kind === 'char' ? [...corpus.text].length : Math.round(corpus.bytes / 3);
  const presetName = req.preset ?? 'tiny';
  const p = presetNamed(presetName);
  const config = validateModelConfig({
    ...MODEL_DEFAULTS,
    vocabSize,
    context: req.context ?? p.context,
    layers: p.layers,
    heads: p.heads,
    width: p.width,
    dropout: p.dropout,
  });
  const batch = req.batch ?? p.batch;
  const plan = makeTrainPlan(
    tokens,
    config,
    validateTrainOptions({
      ...DEFAULT_TRAIN_OPTIONS,
      batch,
      epochs: req.epochs,
      maxSteps: req.maxSteps,
      lr: req.lr ?? DEFAULT_TRAIN_OPTIONS.lr,
    }),
  );
  const engine = await startEngine(req.backend ?? 'auto');
  const steps = req.measureSteps ?? 3;
  const seconds = steps > 0 ? median(await timeTrainingSteps(config, batch, steps, 1)) / 1000 : undefined;
  return {
    ...estimate(config, batch, plan.stepsPerEpoch, seconds),
    preset: presetName,
    tokens,
    totalSteps: plan.totalSteps,
    config,
    backend: engine.backend,
    threads: engine.threads,
    blas: engine.blas,
    nativeUnavailable: engine.skipped.find((why) => why.startsWith('native:'))?.slice(8),
  };
}
