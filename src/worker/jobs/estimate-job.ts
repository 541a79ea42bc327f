import { CleanOptions } from '../../core/clean';
import { startEngine, BackendChoice } from '../engine/backend';
import { RandomBaseLora, measureRunOverheads, median, measureTrainingSteps } from '../bench/step-timer';
import { CHECKPOINT_MAX_SECONDS, SAMPLE_TOKENS, checkpointStepBound } from '../train/trainer';
import { dataPlan, prepareOnDisk, sftModel, tokenizerDir } from './finetune-job';
import { openTrainingData } from '../../core/finetune-folder';
import { runOfCheckpoint } from '../../core/run-json';
import { finetuneShape } from '../../core/finetune';
import { FinetuneTargetRequest, finetuneTarget } from '../../core/finetune-target';
import { loraParameterCount, loraScale } from '../../core/lora-adapter';
import { corpusSource } from '../../core/prepared/corpus-source';
import { cleanedSource } from '../../core/prepared/source-cleaned';
import { runStepsAsync } from '../../core/prepared/steps';
import { PrepareOptions, prepareCorpus } from '../../core/prepared/prepare-corpus';
import { Estimate, estimate, runSeconds } from '../../core/estimate';
import { Arch, MODEL_DEFAULTS, ModelConfig, presetNamed, validateModelConfig, withArch } from '../../core/model-config';
import { TokenizerKind, defaultBpeVocabSize } from '../../core/tokenizer';
import { DEFAULT_TRAIN_OPTIONS, TrainPlan, validateTrainOptions } from '../../core/train-options';
import { frozenAsBf16 } from '../model/gpt';
import { makeTrainPlan, trainingWindow } from '../../core/train-plan';
import { evalWindowStarts } from '../../core/batches';

export interface EstimateRequest {
  corpusPath: string;
  preset?: string;
  /** GPT-2 or Llama blocks (core/model-config.ts withArch). */
  arch?: Arch;
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
  /**
   * Fine-tuning this model folder (run, checkpoint, Hugging Face folder …) on the corpus instead of
   * training a preset: its shape, tokenizer and training window (core/finetune.ts finetuneShape).
   * Asked as finetune is (`finetune BASE DATA --lora …`): LoRA on a LoRA adapter continues it.
   */
  finetune?: FinetuneTargetRequest;
  /** The text cleaned as the run will clean it (train --clean): counted, and prepared for the run to reuse. */
  clean?: CleanOptions;
}

export interface EstimateResult extends Estimate {
  /** The preset, or "lora" / "full" for a fine-tuning estimate. */
  preset: string;
  /** Tokens per training window (the model's context, or shorter when fine-tuning a big base). */
  window: number;
  batch: number;
  /** A LoRA estimate's rank, and whether it continues the adapter it was asked for. */
  lora?: { r: number; continued: boolean };
  /** Most bytes of tensors held at once during a training step timed here. */
  measuredBytes?: number;
  tokens: number;
  totalSteps: number;
  /** The whole run's time here: its steps, evaluations (with their samples) and checkpoints, each timed. */
  totalSeconds?: number;
  config: ModelConfig;
  backend: string;
  threads: number;
  /** The native engine's BLAS library. */
  blas?: string;
  /** Why the native engine was not used (auto fell back). */
  nativeUnavailable?: string;
}

async function charCounts(path: string, preparing: PrepareOptions): Promise<{ vocabSize: number; tokens: number }> {
  const prepared = await prepareCorpus(path, { kind: 'char' }, preparing);
  prepared.tokens.close();
  return { vocabSize: prepared.tokenizer.vocabSize, tokens: prepared.meta.tokens };
}

/** The text's bytes once cleaned as the run will clean it, which a BPE tokenizer is trained on (streamed, cancellable). */
function cleanedBytes(path: string, clean: CleanOptions, preparing: PrepareOptions): Promise<number> {
  let bytes = 0;
  const source = cleanedSource(corpusSource(path), clean);
  const steps = source.steps(
    (text) => (bytes += Buffer.byteLength(text)),
    () => undefined,
    { shouldStop: preparing.shouldStop },
  );
  return runStepsAsync(steps).then(() => bytes);
}

/**
 * What training this corpus with a preset would cost, before any long work: parameters, tokens,
 * memory, and time per epoch from a few steps timed on this machine.
 */
export async function runEstimateJob(req: EstimateRequest, preparing: PrepareOptions = {}): Promise<EstimateResult> {
  if (req.finetune) return estimateFinetune(req, req.finetune, preparing);
  const kind = req.tokenizer ?? 'char';
  // A char corpus is prepared (a corpus of any size, streamed; the run then reuses it) and counted
  // exactly; a BPE one is not trained for an estimate: its vocabulary has the size asked for.
  const counted = kind === 'char' ? await charCounts(req.corpusPath, { ...preparing, clean: req.clean }) : undefined;
  const bytes = counted || !req.clean ? corpusSource(req.corpusPath).bytes : await cleanedBytes(req.corpusPath, req.clean, preparing);
  const vocabSize = counted?.vocabSize ?? req.vocabSize ?? defaultBpeVocabSize(bytes);
  const tokens = counted?.tokens ?? Math.round(bytes / 3);
  const presetName = req.preset ?? 'tiny';
  const p = presetNamed(presetName);
  const config = validateModelConfig(
    withArch(
      {
        ...MODEL_DEFAULTS,
        vocabSize,
        context: req.context ?? p.context,
        layers: p.layers,
        heads: p.heads,
        width: p.width,
        dropout: p.dropout,
      },
      req.arch,
    ),
  );
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
    undefined,
    req.clean && { path: req.corpusPath, clean: req.clean },
  );
  return measure(req, presetName, { config, window: config.context, batch, tokens, plan });
}

/**
 * What `finetune BASE DATA [--lora --rank r]` would cost: the base's real shape and tokenizer, the
 * data's plan as finetune makes it (a .jsonl's examples, a folder's documents), steps timed here.
 */
async function estimateFinetune(
  req: EstimateRequest,
  ft: NonNullable<EstimateRequest['finetune']>,
  preparing: PrepareOptions,
): Promise<EstimateResult> {
  const data = openTrainingData(req.corpusPath);
  const target = finetuneTarget(ft);
  const { base, modules } = target;
  const { config } = base;
  const { context, batch } = finetuneShape(
    config.context,
    req,
    runOfCheckpoint(base.dir, base.kind === 'checkpoint')?.run.plan.options.batch,
  );
  const options = validateTrainOptions({ ...DEFAULT_TRAIN_OPTIONS, batch, context: context === config.context ? undefined : context });
  // A folder or a .jsonl is prepared as the run will prepare it (streamed; the run then reuses it).
  const model = sftModel(base.tokenizer, tokenizerDir(base));
  await prepareOnDisk(data, model, trainingWindow(config, options), preparing);
  const { prepared, plan } = dataPlan(data, model, config, options, req.corpusPath);
  prepared.close?.();
  const tokens = plan.trainTokens + plan.valTokens;
  const settings = target.lora;
  const lora = settings && { modules, r: settings.r, scale: loraScale(settings), dropout: settings.dropout };
  const adapterParams = lora && loraParameterCount(config, lora.modules, lora.r);
  // The frozen base is measured held as the run will hold it: BF16 when it came in BF16 (native engine).
  await startEngine(req.backend ?? 'auto');
  const bf16Base = lora !== undefined && frozenAsBf16(config, base.weights);
  const s = { config, window: context, batch, tokens, plan };
  const e = await measure(req, lora ? 'lora' : 'full', s, lora && { ...lora, bf16Base }, adapterParams);
  return settings ? { ...e, lora: { r: settings.r, continued: target.continued !== undefined } } : e;
}

/** Times `measureSteps` steps of the shape on this machine (after one warm-up) and takes one step's peak tensor bytes. */
async function measure(
  req: EstimateRequest,
  preset: string,
  s: { config: ModelConfig; window: number; batch: number; tokens: number; plan: TrainPlan },
  lora?: RandomBaseLora,
  adapterParams?: number,
): Promise<EstimateResult> {
  const engine = await startEngine(req.backend ?? 'auto');
  const steps = req.measureSteps ?? 3;
  const trained = { ...s.config, context: s.window };
  const measured = steps > 0 ? await measureTrainingSteps(trained, s.batch, steps, 1, 1, lora) : undefined;
  const secondsPerStep = measured && median(measured.times) / 1000;
  const e = estimate(trained, s.batch, s.plan.stepsPerEpoch, secondsPerStep, adapterParams, lora?.bf16Base ? 2 : 4);
  let totalSeconds: number | undefined;
  if (secondsPerStep !== undefined) {
    const { plan } = s;
    const evalWindows = evalWindowStarts(plan.valTokens, s.window, plan.options.evalBatches * s.batch).length;
    const checkpointBytes = 4 * (e.params + 2 * e.trainableParams);
    const overheads = await measureRunOverheads(trained, s.batch, evalWindows, plan.valTokens, SAMPLE_TOKENS, checkpointBytes);
    // A checkpoint is due after checkpointStepBound steps or a minute, whichever comes first.
    const checkpointEvery = Math.min(checkpointStepBound(trained), Math.ceil(CHECKPOINT_MAX_SECONDS / secondsPerStep));
    totalSeconds = runSeconds(plan, secondsPerStep, overheads, checkpointEvery);
  }
  return {
    ...e,
    totalSeconds,
    preset,
    window: s.window,
    batch: s.batch,
    measuredBytes: measured?.peakBytes,
    tokens: s.tokens,
    totalSteps: s.plan.totalSteps,
    config: s.config,
    backend: engine.backend,
    threads: engine.threads,
    blas: engine.blas,
    nativeUnavailable: engine.skipped.find((why) => why.startsWith('native:'))?.slice(8),
  };
}
