import { dirname, join } from 'node:path';
import { Gpt, LoraOptions } from '../model/gpt';
import { AdamW } from './adamw';
import { trainStep } from './train-step';
import { generate } from '../model/generator';
import { examplesLoss, meanLoss } from '../model/evaluate';
import { EpochPlan, evalWindowStarts, fillBatch } from '../../core/batches';
import { TokenReader, asTokenReader, tokenRange } from '../../core/prepared/token-file';
import {
  ExampleRows,
  asExampleRows,
  exampleOrder,
  fillExampleBatch,
  firstRows,
  trainedTargetReader,
  trainedTargets,
} from '../../core/example-batches';
import { SftRow } from '../../core/sft-examples';
import { UserError, message } from '../../core/errors';
import { learningRateAt } from '../../core/lr-schedule';
import { mixSeed } from '../../core/rng';
import { Tokenizer } from '../../core/tokenizer';
import { TrainPlan } from '../../core/train-options';
import { trainingWindow } from '../../core/train-plan';
import { ModelConfig } from '../../core/model-config';
import { TrainEvent } from '../../core/train-events';
import { TrainerState, pruneCheckpoints, writeCheckpoint } from '../../core/checkpoint';
import { appendMetrics, readMetrics } from '../../core/metrics';
import { bitsPer, computeBaselines, textSize } from '../../core/baselines';
import { OverfitWatch, overfitMessage } from '../../core/overfit-watch';
import { NamedTensors } from '../../core/tensor';
import { parameterCount } from '../../core/weight-table';
import { replayRows } from '../../core/finetune';
import { BaseRecord, LoraSettings } from '../../core/lora-adapter';
import { adapterLayers, writeAdapterCheckpoint } from '../../core/adapter-checkpoint';
import { EngineInfo } from '../engine/backend';
import { ReplicaFailure, ReplicaPool } from './replicas/replica-pool';

export interface TrainJob {
  runDir: string;
  plan: TrainPlan;
  /** The whole corpus, encoded (in memory, or prepared on disk); the last plan.valTokens are held out. */
  tokens: Int32Array | TokenReader;
  tokenizer: Tokenizer;
  engine: EngineInfo;
  /** Threads that share each batch (data-parallel replicas); 1 trains on this thread alone. */
  threads: number;
  /** The host copies of weights and moments are emptied once they are on the engine (see releaseHostCopies). */
  resume?: { from: string; weights: NamedTensors; optimizer: NamedTensors; state: TrainerState };
  /** Fine-tuning: the model to start from; with `lora` these are the frozen base's weights (emptied like resume's). */
  start?: { weights: NamedTensors; lora?: LoraOptions };
  /** LoRA: checkpoints are adapters (core/adapter-checkpoint.ts) on this base. */
  adapter?: { settings: LoraSettings; base: BaseRecord };
  /** Fine-tuning a base whose own corpus is known: its held-out part is evaluated too (forgetting), its training part replayed. */
  baseCorpus?: { train: TokenReader; val: TokenReader; replay: number };
  /** Fine-tuning on examples (JSON Lines): each its own row (in memory or read from prepared rows), the loss on their trained tokens; `tokens` is then unused. */
  examples?: { train: readonly SftRow[] | ExampleRows; val: readonly SftRow[] | ExampleRows };
  /** Told to the user right after the start event (e.g. the vocabulary pre-flight). */
  notices?: string[];
  /** A fine-tuned base's tokenizer side files (chat template …), written into each checkpoint of the whole model (an adapter's base keeps its own). */
  tokenizerFiles?: Record<string, string>;
  shouldStop: () => boolean;
  emit: (e: TrainEvent) => void;
  /** Diagnostic lines (the replicas' log). */
  log: (message: string) => void;
}

export interface TrainResult {
  checkpoint: string;
  step: number;
  valLoss: number;
  reason: 'completed' | 'cancelled';
  /** The checkpoint with the lowest validation loss (the one to use: later ones may have overfit). */
  best?: { checkpoint: string; valLoss: number };
}

/** Tokens of the sample each evaluation writes (the chart shows it). */
export const SAMPLE_TOKENS = 48;

// Short epochs would otherwise write a checkpoint every few steps (a 10 KB text: every 5 steps,
// ~10 MB each for the tiny preset). An epoch's end writes one once the steps since the last pay for
// it (one step per 100 KB of checkpoint) or once a minute has passed; final and cancel always write.
const CHECKPOINT_BYTES_PER_STEP = 100 * 1024;
export const CHECKPOINT_MAX_SECONDS = 60;

/** Steps between epoch-end checkpoints of a model: weights and two AdamW moments, 4 bytes each. */
export function checkpointStepBound(config: ModelConfig): number {
  return Math.max(1, Math.ceil((parameterCount(config) * 12) / CHECKPOINT_BYTES_PER_STEP));
}

/**
 * Empties the job's maps of host weights and moments once they are uploaded: whoever read them
 * (the fine-tuning or resume job) holds the same maps for the whole run, and at GPT-2 small they
 * are 0.5 GB of weights and 1 GB of moments besides the engine's own copies.
 */
function releaseHostCopies(job: TrainJob): void {
  for (const m of [job.start?.weights, job.resume?.weights, job.resume?.optimizer]) m?.clear();
}

/** Runs (or resumes) a training job to its step budget or until shouldStop() says so. */
export async function train(job: TrainJob): Promise<TrainResult> {
  const { plan, tokenizer, emit } = job;
  const { model: config, options } = plan;
  const { batch } = options;
  const context = trainingWindow(config, options);
  const examples = job.examples && {
    train: asExampleRows(job.examples.train),
    // As text evaluates evalBatches × batch windows: a held-out split of any size costs a bounded evaluation.
    val: firstRows(asExampleRows(job.examples.val), options.evalBatches * batch),
  };
  const tokens = asTokenReader(job.tokens);
  const trainSplit = examples ? trainedTargetReader(examples.train) : tokenRange(tokens, 0, plan.trainTokens);
  const valSplit = tokenRange(tokens, plan.trainTokens);
  const evalStarts = examples ? [] : evalWindowStarts(valSplit.length, context, options.evalBatches * batch);
  // The evaluation windows are contiguous from the start of the held-out split (examples: their trained tokens).
  const scored = examples ? trainedTargets(examples.val) : valSplit.view(1, evalStarts.length * context + 1).slice();
  const heldOutLoss = () => (examples ? examplesLoss(model, examples.val, batch) : meanLoss(model, valSplit, evalStarts, context, batch));
  const scoredSize = textSize(tokenizer, scored);

  const baseEvalStarts = job.baseCorpus && evalWindowStarts(job.baseCorpus.val.length, context, options.evalBatches * batch);

  const model = job.start
    ? Gpt.fromWeights(config, job.start.weights, job.start.lora)
    : job.resume
      ? Gpt.fromWeights(config, job.resume.weights)
      : Gpt.initialise(config, options.seed);
  const optimizer = new AdamW(model.params, options, model.decayed);
  if (job.resume) optimizer.restore(job.resume.optimizer);
  releaseHostCopies(job);
  const state = { step: 0, epoch: 0, cursor: 0, bestValLoss: Infinity, bestCheckpoint: '' };
  if (job.resume) {
    const s = job.resume.state;
    Object.assign(state, { step: s.step, epoch: s.epoch, cursor: s.cursor, bestValLoss: s.best_val_loss ?? Infinity });
    state.bestCheckpoint = s.best_checkpoint ?? '';
  }

  let replicas: ReplicaPool | undefined;
  const dropReplicas = async (why: string) => {
    await replicas?.dispose();
    replicas = undefined;
    emit({ type: 'notice', step: state.step, message: `${why}; training continues on one thread` });
  };
  if (job.threads > 1) {
    try {
      replicas = await ReplicaPool.start(config, model.params, job.threads, job.log);
    } catch (e) {
      await dropReplicas(`could not start ${job.threads} training threads (${(e as Error).message})`);
    }
  }

  const trainable = [...model.params.values()].reduce((n, p) => n + p.size, 0);
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000 + (job.resume?.state.elapsed_s ?? 0);
  const log = (e: TrainEvent) => {
    if (e.type === 'step' || e.type === 'eval') appendMetrics(job.runDir, e);
    emit(e);
  };
  const baselines = job.resume ? undefined : computeBaselines(tokenizer, trainSplit, scored, await heldOutLoss());
  if (baselines || !readMetrics(job.runDir).some((m) => m.type === 'baselines')) {
    appendMetrics(job.runDir, { type: 'baselines', ...(baselines ?? computeBaselines(tokenizer, trainSplit, scored)) });
  }
  emit({
    type: 'start',
    run_dir: job.runDir,
    params: parameterCount(config) + (model.lora ? trainable : 0),
    trainable_params: trainable,
    backend: job.engine.backend,
    threads: job.engine.threads * (replicas?.size ?? 1),
    blas: job.engine.blas,
    plan,
    step: state.step,
    epoch: state.epoch + 1,
    resumed_from: job.resume?.from,
    baselines,
  });
  for (const message of job.notices ?? []) emit({ type: 'notice', step: state.step, message });
  for (const why of job.engine.skipped)
    if (why.startsWith('native:')) emit({ type: 'notice', step: state.step, message: `native engine not used: ${why.slice(8)}` });

  const inputs = new Int32Array(batch * context);
  const targets = new Int32Array(batch * context);
  const newEpochPlan = () =>
    examples
      ? exampleOrder(examples.train.length, options.seed, state.epoch)
      : new EpochPlan(trainSplit.length, context, options.seed, state.epoch);
  let epochPlan = newEpochPlan();
  let lastLoss = NaN;
  let lastValLoss = NaN;
  let lastCheckpoint = job.resume?.from ?? '';
  const stepsBetweenCheckpoints = checkpointStepBound(config);
  let lastCheckpointAt = { step: state.step, time: performance.now() };
  let tokensPerSecond = 0;
  let lastEvalStep = -1;
  const overfit = new OverfitWatch();
  let stepLossSum = 0;
  let stepLossCount = 0;

  const evaluate = async () => {
    lastValLoss = await heldOutLoss();
    const baseValLoss = baseEvalStarts?.length ? await meanLoss(model, job.baseCorpus!.val, baseEvalStarts, context, batch) : undefined;
    let sample: string | undefined;
    try {
      sample = (
        await generate(model, tokenizer, '', { temperature: 0.8, topK: 0, topP: 1, maxTokens: SAMPLE_TOKENS, seed: state.step, stop: [] })
      ).text;
    } catch {
      sample = undefined; // a sample is a courtesy; never let it stop training
    }
    const { bitsPerChar, bitsPerByte } = bitsPer(lastValLoss, scored.length, scoredSize);
    log({
      type: 'eval',
      step: state.step,
      epoch: state.epoch + 1,
      loss: lastLoss,
      val_loss: lastValLoss,
      base_val_loss: baseValLoss,
      val_bits_per_char: bitsPerChar,
      val_bits_per_byte: bitsPerByte,
      elapsed_s: elapsed(),
      sample,
    });
    if (stepLossCount > 0) {
      const warning = overfit.add({ step: state.step, trainLoss: stepLossSum / stepLossCount, valLoss: lastValLoss });
      stepLossSum = stepLossCount = 0;
      if (warning)
        emit({
          type: 'notice',
          step: state.step,
          message: overfitMessage(warning),
          code: 'overfitting',
          best_step: warning.best.step,
          best_val_loss: warning.best.valLoss,
        });
    }
  };

  const checkpoint = async (name: string, reason: 'epoch' | 'final' | 'cancel', epochForEvent: number) => {
    if (Number.isNaN(lastValLoss) || lastEvalStep !== state.step) {
      await evaluate();
      lastEvalStep = state.step;
    }
    if (lastValLoss < state.bestValLoss) {
      state.bestValLoss = lastValLoss;
      state.bestCheckpoint = name;
    }
    const trainerState: TrainerState = {
      step: state.step,
      epoch: state.epoch,
      cursor: state.cursor,
      seed: options.seed,
      best_val_loss: Number.isFinite(state.bestValLoss) ? state.bestValLoss : null,
      best_checkpoint: state.bestCheckpoint,
      rng: { kind: 'counter', seed: options.seed, step: state.step, epoch: state.epoch },
      elapsed_s: elapsed(),
      loss: lastLoss,
      val_loss: lastValLoss,
      plan,
    };
    const common = { optimizer: await optimizer.moments(), trainerState, tokenizerJson: tokenizer.toJSON() };
    lastCheckpoint = job.adapter
      ? writeAdapterCheckpoint(job.runDir, name, {
          ...common,
          base: job.adapter.base,
          adapter: { settings: job.adapter.settings, layers: adapterLayers([...model.lora!.modules], await model.weights()) },
        })
      : writeCheckpoint(job.runDir, name, {
          ...common,
          config,
          weights: await model.weights(),
          tokenizerKind: tokenizer.kind,
          tokenizerFiles: job.tokenizerFiles,
        });
    lastCheckpointAt = { step: state.step, time: performance.now() };
    pruneCheckpoints(job.runDir, options.keepCheckpoints, state.bestCheckpoint ? [state.bestCheckpoint] : []);
    emit({ type: 'checkpoint', step: state.step, epoch: epochForEvent, path: lastCheckpoint, val_loss: lastValLoss, reason });
  };

  try {
    while (state.step < plan.totalSteps) {
      if (job.shouldStop()) {
        await checkpoint(midEpochName(state.step), 'cancel', state.epoch + 1);
        emit(doneEvent('cancelled'));
        return { checkpoint: lastCheckpoint, step: state.step, valLoss: lastValLoss, reason: 'cancelled' };
      }
      const rows = epochPlan instanceof EpochPlan ? undefined : fillExampleBatch(examples!.train, epochPlan, state.cursor, batch);
      if (epochPlan instanceof EpochPlan) {
        fillBatch(trainSplit, epochPlan, state.cursor, batch, context, inputs, targets);
        if (job.baseCorpus)
          replayRows(job.baseCorpus.train, job.baseCorpus.replay, options.seed, state.step, batch, context, inputs, targets);
      }
      const lr = learningRateAt(
        { lr: options.lr, minLr: options.minLr, warmupSteps: plan.warmupSteps, totalSteps: plan.totalSteps },
        state.step,
      );
      const t0 = performance.now();
      const stepInput = {
        inputs: rows?.inputs ?? inputs,
        targets: rows?.targets ?? targets,
        batch,
        lr,
        update: state.step + 1,
        gradClip: options.gradClip,
        dropoutSeed: mixSeed(options.seed, state.step, 0xd0),
      };
      let result: { loss: number; gradNorm: number };
      try {
        result = await trainStep(model, optimizer, stepInput, replicas);
      } catch (e) {
        if (!(e instanceof ReplicaFailure)) throw e;
        // Nothing was applied: the step is done again on this thread.
        await dropReplicas(e.message);
        result = await trainStep(model, optimizer, stepInput);
      }
      const { loss, gradNorm } = result;
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
        const kept = lastCheckpoint
          ? message('the last good checkpoint is kept ({0})', lastCheckpoint)
          : message('no checkpoint had been written yet');
        throw new UserError(
          'training diverged at step {0} (learning rate {1}): the loss is {2} and the gradient norm {3}; {4} — lower --lr (try {5}) and train again',
          state.step + 1,
          Number(lr.toPrecision(3)),
          loss,
          gradNorm,
          kept,
          Number((options.lr / 10).toPrecision(2)),
        );
      }
      const seconds = (performance.now() - t0) / 1000;
      const rate = (batch * (rows?.width ?? context)) / seconds;
      tokensPerSecond = tokensPerSecond === 0 ? rate : 0.9 * tokensPerSecond + 0.1 * rate;
      lastLoss = loss;
      stepLossSum += loss;
      stepLossCount++;
      const stepEpoch = state.epoch + 1;
      state.step++;
      state.cursor++;
      log({
        type: 'step',
        step: state.step,
        epoch: stepEpoch,
        loss,
        lr,
        grad_norm: gradNorm,
        tokens_per_s: tokensPerSecond,
        elapsed_s: elapsed(),
      });

      const epochDone = state.cursor >= plan.stepsPerEpoch;
      if (epochDone) {
        state.epoch++;
        state.cursor = 0;
        epochPlan = newEpochPlan();
      }
      if (state.step % plan.evalEvery === 0 || state.step === plan.totalSteps) {
        await evaluate();
        lastEvalStep = state.step;
      }
      const checkpointDue =
        state.step - lastCheckpointAt.step >= stepsBetweenCheckpoints ||
        (performance.now() - lastCheckpointAt.time) / 1000 >= CHECKPOINT_MAX_SECONDS;
      if (epochDone && (checkpointDue || state.step === plan.totalSteps)) await checkpoint(epochName(stepEpoch), 'epoch', stepEpoch);
      else if (state.step === plan.totalSteps) await checkpoint(midEpochName(state.step), 'final', stepEpoch);
      // Let cancel requests and other messages in between steps.
      await new Promise((r) => setImmediate(r));
    }
    emit(doneEvent('completed'));
    const best = state.bestCheckpoint
      ? { checkpoint: join(dirname(lastCheckpoint), state.bestCheckpoint), valLoss: state.bestValLoss }
      : undefined;
    return { checkpoint: lastCheckpoint, step: state.step, valLoss: lastValLoss, reason: 'completed', best };
  } finally {
    await replicas?.dispose();
    optimizer.dispose();
    model.dispose();
  }

  function doneEvent(reason: 'completed' | 'cancelled'): TrainEvent {
    return {
      type: 'done',
      step: state.step,
      epoch: state.epoch + (state.cursor > 0 ? 1 : 0),
      loss: lastLoss,
      val_loss: lastValLoss,
      elapsed_s: elapsed(),
      checkpoint: lastCheckpoint,
      reason,
    };
  }
}

export function epochName(epoch: number): string {
  return `epoch-${String(epoch).padStart(4, '0')}`;
}

export function midEpochName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}
