import { basename, dirname, join } from 'node:path';
import { startEngine, BackendChoice } from '../engine/backend';
import { TrainResult } from '../train/trainer';
import { PrepareOptions, PreparedCorpus, prepareCorpus } from '../../core/prepared/prepare-corpus';
import { cancellableWhilePreparing, preparation } from './preparation';
import { trainingTokens } from '../../core/prepared/document-layout';
import { UserError } from '../../core/errors';
import {
  Arch,
  MODEL_DEFAULTS,
  MODEL_OPTION_KEYS,
  ModelConfig,
  ModelOptionKey,
  presetNamed,
  validateModelConfig,
  withArch,
} from '../../core/model-config';
import { pickDefined } from '../../core/pick-defined';
import { TokenizerKind } from '../../core/tokenizer';
import { DEFAULT_TRAIN_OPTIONS, TRAIN_OPTION_KEYS, TrainOptionKey, TrainOptions, validateTrainOptions } from '../../core/train-options';
import { makeTrainPlan } from '../../core/train-plan';
import { checkPlanFits } from '../../core/memory-budget';
import { TrainEvent } from '../../core/train-events';
import { readCheckpoint, resolveCheckpoint } from '../../core/checkpoint';
import { checkRunTokenizer } from '../../core/model-tokenizer';
import { ExperimentArm, effectiveStatus, runOfCheckpoint, thisTrainer, updateRunJson } from '../../core/run-json';
import { CleanOptions, cleanOptionsOf, cleaningName } from '../../core/clean';
import { checkStepsLeft, resumableRun, startRun, trainInRun } from './run-folder';
import { isFinetuneRun, resumeFinetuneJob } from './finetune-job';
import { truncateMetrics } from '../../core/metrics';
import { resolveTrainingThreads } from '../train/replicas/replica-pool';

/**
 * A training request as the CLI and the extension send it (plain JSON): any of the model's shape
 * and of the training options (unset ones come from the preset and the defaults), plus paths.
 */
export type TrainRequest = Partial<Pick<ModelConfig, ModelOptionKey>> &
  Partial<Pick<TrainOptions, TrainOptionKey>> & {
    corpusPath: string;
    /** The run folder to create; without it a timestamped folder is made under runsRoot. */
    runDir?: string;
    runsRoot?: string;
    preset?: string;
    /** GPT-2 or Llama blocks (core/model-config.ts withArch); default GPT-2. */
    arch?: Arch;
    tokenizer?: TokenizerKind;
    /** BPE vocabulary size (a char vocabulary is the corpus's characters). */
    vocabSize?: number;
    backend?: BackendChoice;
    /** Training threads on the wasm backend; default one per core, at most 4. */
    threads?: number;
    /** A run folder or checkpoint folder to continue from. */
    resume?: string;
    /** Resume on a corpus that changed since the run started: a new epoch on the new text (weights and optimizer kept). */
    continueOnChangedCorpus?: boolean;
    /** The run is an arm of an experiment on another run (recorded in its run.json). */
    experiment?: ExperimentArm;
    /** Clean the text as it is prepared, with these optional rules (`{}`: the steps that always run); a resume cleans as its run did. */
    clean?: CleanOptions;
  };

/** `log` takes diagnostic lines (the extension's log); events go to `emit`. */
export async function runTrainJob(
  req: TrainRequest,
  emit: (e: TrainEvent) => void,
  shouldStop: () => boolean,
  log: (message: string) => void = () => undefined,
): Promise<TrainResult> {
  return cancellableWhilePreparing(req.corpusPath, emit, async () =>
    // A fine-tuning run reads its data as it did (a .jsonl of examples, a folder of documents, a text).
    req.resume && isFinetuneRun(req.resume)
      ? resumeFinetuneJob(req, await startEngine(req.backend ?? 'auto'), emit, shouldStop, log)
      : trainOnPrepared(req, emit, shouldStop, log),
  );
}

async function trainOnPrepared(
  req: TrainRequest,
  emit: (e: TrainEvent) => void,
  shouldStop: () => boolean,
  log: (message: string) => void,
): Promise<TrainResult> {
  const preparing = preparation(emit, shouldStop);
  if (req.resume) return resumeJob(req, preparing, emit, shouldStop, log);
  const prepared = await prepareCorpus(
    req.corpusPath,
    { kind: req.tokenizer ?? 'char', vocabSize: req.vocabSize },
    { ...preparing, clean: req.clean },
  );
  try {
    const engine = await startEngine(req.backend ?? 'auto');
    const { tokenizer } = prepared;
    const { batch, ...shape } = presetNamed(req.preset ?? 'tiny');
    const model = validateModelConfig(
      withArch({ ...MODEL_DEFAULTS, ...shape, ...pickDefined(req, MODEL_OPTION_KEYS), vocabSize: tokenizer.vocabSize }, req.arch),
    );
    const trainOptions = { batch, ...pickDefined(req, TRAIN_OPTION_KEYS) };
    const lr = trainOptions.lr ?? DEFAULT_TRAIN_OPTIONS.lr;
    const options = validateTrainOptions({ ...DEFAULT_TRAIN_OPTIONS, ...trainOptions, minLr: lr / 10 });
    const { tokens, heldOut } = trainingTokens(prepared, options.valFraction);
    const cleaned = req.clean && { path: req.corpusPath, clean: req.clean };
    const plan = makeTrainPlan(tokens.length, model, options, heldOut, cleaned);
    checkPlanFits(plan, engine.backend);
    const threads = resolveTrainingThreads(req.threads, engine.backend, options.batch);
    return await startRun(req, prepared.meta.source, { plan, tokens, tokenizer, engine, threads, shouldStop, emit, log });
  } finally {
    prepared.tokens.close();
  }
}

async function resumeJob(
  req: TrainRequest,
  preparing: PrepareOptions,
  emit: (e: TrainEvent) => void,
  shouldStop: () => boolean,
  log: (message: string) => void,
): Promise<TrainResult> {
  const dir = resolveCheckpoint(req.resume!);
  const ckpt = readCheckpoint(dir, { withOptimizer: true });
  const tokenizer = ckpt.tokenizer;
  const prepared = await prepareCorpus(req.corpusPath, tokenizer, { ...preparing, clean: runCleaning(dir, req.clean) });
  try {
    return await resumeFrom(req, dir, ckpt, prepared, await startEngine(req.backend ?? 'auto'), emit, shouldStop, log);
  } finally {
    prepared.tokens.close();
  }
}

/** How the run of checkpoint `dir` cleaned its text (run.json); a resume asking for another cleaning is refused. */
function runCleaning(dir: string, asked: CleanOptions | undefined): CleanOptions | undefined {
  const clean = cleanOptionsOf(runOfCheckpoint(dir, true)?.run.corpus.clean);
  if (asked && cleaningName(asked) !== cleaningName(clean))
    throw new UserError('{0}: a resume prepares the text as its run did ({1}): leave out --clean and --rules', dir, cleaningName(clean));
  return clean;
}

async function resumeFrom(
  req: TrainRequest,
  dir: string,
  ckpt: ReturnType<typeof readCheckpoint>,
  prepared: PreparedCorpus,
  engine: Awaited<ReturnType<typeof startEngine>>,
  emit: (e: TrainEvent) => void,
  shouldStop: () => boolean,
  log: (message: string) => void,
): Promise<TrainResult> {
  const { tokenizer } = prepared;
  const corpus = prepared.meta.source;
  const saved = ckpt.trainerState.plan;
  if (!saved) throw new UserError('{0}: trainer_state.json has no training plan, so this checkpoint cannot be resumed', dir);
  // The same corpus and budget give the same plan; a longer budget extends the cosine schedule.
  const options = validateTrainOptions({
    ...saved.options,
    epochs: req.epochs ?? saved.options.epochs,
    maxSteps: req.maxSteps ?? saved.options.maxSteps,
  });
  const { tokens, heldOut } = trainingTokens(prepared, options.valFraction);
  const plan = makeTrainPlan(tokens.length, ckpt.config, options, heldOut);
  const changed = plan.trainTokens !== saved.trainTokens;
  if (changed && !req.continueOnChangedCorpus) {
    throw new UserError(
      '{0} is not the corpus this checkpoint was trained on ({1} tokens, the run had {2}): resume with the same file, or start a new run',
      req.corpusPath,
      tokens.length,
      saved.trainTokens + saved.valTokens,
    );
  }
  checkStepsLeft(dir, ckpt.trainerState.step, plan);
  checkPlanFits(plan, engine.backend);
  const threads = resolveTrainingThreads(req.threads, engine.backend, options.batch);
  const runDir = dirname(dirname(dir));
  const run = resumableRun(runDir, req.runDir);
  checkRunTokenizer(tokenizer, run, join(dir, 'tokenizer.json'));
  if (effectiveStatus(run) === 'interrupted') {
    emit({
      type: 'notice',
      step: ckpt.trainerState.step,
      message: `the run was interrupted (its training process is gone); continuing from ${basename(dir)}, step ${ckpt.trainerState.step}`,
    });
  }
  truncateMetrics(runDir, ckpt.trainerState.step);
  const corpusChange = req.continueOnChangedCorpus
    ? { corpus: { ...run.corpus, sha256: corpus.sha256, bytes: corpus.bytes, tokens: tokens.length } }
    : {};
  updateRunJson(runDir, { status: 'training', trainer: thisTrainer(), plan, ...corpusChange });
  // On changed text the old epoch's batch order and validation split no longer apply: a new epoch starts.
  const s = ckpt.trainerState;
  const state = changed ? { ...s, epoch: s.epoch + (s.cursor > 0 ? 1 : 0), cursor: 0, best_val_loss: null } : s;
  return trainInRun(
    {
      runDir,
      plan,
      tokens,
      tokenizer,
      engine,
      threads,
      shouldStop,
      emit,
      log,
      resume: { from: dir, weights: ckpt.weights, optimizer: ckpt.optimizer!, state },
    },
    run,
  );
}
