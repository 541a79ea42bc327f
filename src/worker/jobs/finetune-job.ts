import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { BackendChoice, EngineInfo, startEngine } from '../engine/backend';
import { TrainJob, TrainResult } from '../train/trainer';
import { LoraOptions, frozenAsBf16 } from '../model/gpt';
import { readChatTemplate } from '../../core/chat-template';
import { keptTokenizerFiles } from '../../core/hf-export';
import { PreparedData, endOfTextId, prepareData } from '../../core/finetune-data';
import {
  TrainingData,
  openTrainingData,
  prepareDocuments,
  prepareExamples,
  prepareText,
  unseenCharactersOf,
} from '../../core/finetune-folder';
import { PrepareOptions, prepareCorpus } from '../../core/prepared/prepare-corpus';
import { prepareSftRows } from '../../core/prepared/sft-rows';
import { TokenReader, tokenRange } from '../../core/prepared/token-file';
import { runStepsAsync } from '../../core/prepared/steps';
import { baseRunTokensSteps } from '../../core/export-torch/token-files';
import { cancellableWhilePreparing, preparation } from './preparation';
import { SftModel } from '../../core/sft-examples';
import { ModelConfig } from '../../core/model-config';
import { UserError, formatMessage } from '../../core/errors';
import { Tokenizer } from '../../core/tokenizer';
import { DEFAULT_TRAIN_OPTIONS, TrainOptions, TrainPlan, validateTrainOptions } from '../../core/train-options';
import { makeExamplePlan, makeTrainPlan, trainingWindow } from '../../core/train-plan';
import { checkPlanFits } from '../../core/memory-budget';
import { TrainEvent } from '../../core/train-events';
import { readCheckpoint, resolveCheckpoint } from '../../core/checkpoint';
import { RunJson, readRunJson, runOfCheckpoint, thisTrainer, updateRunJson } from '../../core/run-json';
import { truncateMetrics } from '../../core/metrics';
import { ModelFiles, readModelFolder } from '../../core/model-folder';
import { checkRunTokenizer, modelTokenizer } from '../../core/model-tokenizer';
import { readRegularFile } from '../../core/safe-fs';
import { LoraSettings, baseRecord, loraParameterCount, loraScale } from '../../core/lora-adapter';
import { readAdapterCheckpoint } from '../../core/adapter-checkpoint';
import { FinetuneTargetRequest, finetuneTarget } from '../../core/finetune-target';
import { NamedTensors } from '../../core/tensor';
import {
  DEFAULT_REPLAY,
  FINETUNE_LR,
  FinetuneRecord,
  UnseenPolicy,
  UNSEEN_POLICIES,
  charVocabulary,
  checkReplay,
  describeUnseen,
  finetuneShape,
  extendCharTokenizer,
  extendEmbedding,
} from '../../core/finetune';
import { resolveTrainingThreads } from '../train/replicas/replica-pool';
import { checkStepsLeft, resumableRun, startRun, trainInRun } from './run-folder';
import type { TrainRequest } from './train-job';

/** `corpus-lab finetune BASE FILE …` as the CLI and the extension send it. */
export interface FinetuneRequest extends FinetuneTargetRequest {
  corpusPath: string;
  runDir?: string;
  runsRoot?: string;
  replay?: number;
  unseen?: UnseenPolicy;
  /** Training window (tokens per row) and rows per step; defaults: core/finetune.ts finetuneShape. */
  context?: number;
  batch?: number;
  epochs?: number;
  maxSteps?: number;
  lr?: number;
  seed?: number;
  backend?: BackendChoice;
  threads?: number;
}

type Emit = (e: TrainEvent) => void;

export async function runFinetuneJob(
  req: FinetuneRequest,
  emit: Emit,
  shouldStop: () => boolean,
  log: (message: string) => void = () => undefined,
): Promise<TrainResult> {
  return cancellableWhilePreparing(req.corpusPath, emit, () => finetune(req, emit, shouldStop, log));
}

async function finetune(req: FinetuneRequest, emit: Emit, shouldStop: () => boolean, log: (message: string) => void): Promise<TrainResult> {
  const data = openTrainingData(req.corpusPath);
  const { base, lora, modules, continued } = finetuneTarget(req);
  const unseen = req.unseen ?? 'unk';
  if (!UNSEEN_POLICIES.includes(unseen)) throw new UserError('--unseen must be unk or extend (got {0})', JSON.stringify(unseen));
  const replay = checkReplay(req.replay ?? DEFAULT_REPLAY);
  const seed = req.seed ?? DEFAULT_TRAIN_OPTIONS.seed;
  const baseDir = base.dir;
  const engine = await startEngine(req.backend ?? 'auto');

  // Vocabulary pre-flight: a char model meets characters its vocabulary lacks.
  let { config, weights, tokenizerJson } = base;
  let tokenizer = base.tokenizer;
  const notices: string[] = [];
  if (tokenizer.kind === 'char') {
    const found = unseenCharactersOf(new Set(charVocabulary(tokenizerJson).keys()), data);
    if (found.chars.length > 0) {
      if (unseen === 'extend') {
        if (lora)
          throw new UserError(
            '{0}; --unseen extend needs new embedding rows, which a LoRA adapter cannot hold: use --unseen unk, or full fine-tuning',
            describeUnseen(found, 'unk'),
          );
        tokenizerJson = extendCharTokenizer(
          tokenizerJson,
          found.chars.map((c) => c.char),
        );
        ({ config, weights } = extendEmbedding(config, weights, found.chars.length, seed));
        tokenizer = Tokenizer.fromJSON(tokenizerJson);
      }
      notices.push(formatMessage(describeUnseen(found, unseen)));
    }
  } else if (req.unseen === 'extend') {
    throw new UserError("--unseen extend applies to character models; this model's tokenizer ({0}) encodes any text", tokenizer.kind);
  }
  const baseRun = runOfCheckpoint(baseDir, base.kind === 'checkpoint');
  const { context, batch } = finetuneShape(config.context, req, baseRun?.run.plan.options.batch);
  const lr = req.lr ?? (lora ? FINETUNE_LR.lora : FINETUNE_LR.full);
  const options = validateTrainOptions({
    ...DEFAULT_TRAIN_OPTIONS,
    batch,
    context: context === config.context ? undefined : context,
    seed,
    lr,
    minLr: lr / 10,
    epochs: req.epochs,
    maxSteps: req.maxSteps,
  });
  const model = sftModel(tokenizer, tokenizerDir(base));
  await prepareOnDisk(data, model, trainingWindow(config, options), preparation(emit, shouldStop));
  const { prepared, plan } = dataPlan(data, model, config, options, req.corpusPath);
  let old: Awaited<ReturnType<typeof baseCorpus>> | undefined;
  try {
    const { tokens, examples } = prepared;
    checkFinetuneFits(plan, engine.backend, weights, lora && loraOptions(lora, modules, seed));
    const threads = trainingThreads(req.threads, engine, batch, Boolean(lora), notices);

    old = examples
      ? { why: 'examples train one per row, with no windows of old text' }
      : await baseCorpus(baseRun, tokenizer, replay, preparation(emit, shouldStop));
    if ('why' in old && !examples) notices.push(`no forgetting meter and no replay: ${old.why}`);
    if (prepared.event) emit(prepared.event);
    const record: FinetuneRecord = { base: baseDir, lora, replay, unseen, base_corpus: 'why' in old ? undefined : old.record };

    return await startRun(
      req,
      prepared.source,
      {
        plan,
        tokens,
        tokenizer,
        engine,
        threads,
        shouldStop,
        emit,
        log,
        notices,
        start: { weights, lora: lora && { ...loraOptions(lora, modules, seed), from: continued?.layers } },
        adapter: lora && { settings: lora, base: baseRecord(baseDir, basename(base.weightsFile)) },
        baseCorpus: 'why' in old ? undefined : old.tokens,
        examples,
        tokenizerFiles: keptTokenizerFiles(tokenizerDir(base)),
      },
      record,
    );
  } finally {
    if (old && 'close' in old) old.close();
    prepared.close?.();
  }
}

/** What the data needs of the model: its tokenizer, chat template and end-of-text id (from its folder). */
export function sftModel(tokenizer: Tokenizer, dir: string): SftModel {
  return { tokenizer, dir, chat: readChatTemplate(dir), eosId: endOfTextId(dir, tokenizer) };
}

/** The data tokenised for the model, and the run's plan: examples one per row, text and documents as token streams. */
export function dataPlan(
  data: TrainingData,
  model: SftModel,
  config: ModelConfig,
  options: TrainOptions,
  source: string,
): { prepared: TrainingTokens; plan: TrainPlan } {
  const window = trainingWindow(config, options);
  const prepared: TrainingTokens =
    data.kind === 'folder'
      ? prepareDocuments(data.path, model, window, options.valFraction)
      : data.kind === 'jsonl'
        ? prepareExamples(data.path, model, window, options)
        : data.kind === 'textFile'
          ? prepareText(data.path, model)
          : { ...prepareData(data, model, window, options, source), source: data.corpus };
  const { tokens, examples, heldOut } = prepared;
  const plan = examples
    ? makeExamplePlan({ trainExamples: examples.train.length, trainTokens: tokens.length - heldOut!, valTokens: heldOut! }, config, options)
    : makeTrainPlan(tokens.length, config, options, heldOut);
  return { prepared, plan };
}

/** The data a run trains on: in memory, or read from its prepared ids or rows (close() when done). */
type TrainingTokens = Omit<PreparedData, 'tokens' | 'examples'> & {
  tokens: Int32Array | TokenReader;
  examples?: TrainJob['examples'];
  /** What run.json records of the data. */
  source: { bytes: number; sha256: string };
  close?(): void;
};

/**
 * A text's or a folder's ids or a .jsonl's rows prepared for the model before the run (progress
 * shown, cancellable); dataPlan then opens them.
 */
export async function prepareOnDisk(data: TrainingData, model: SftModel, window: number, preparing: PrepareOptions): Promise<void> {
  if (data.kind === 'textFile' || data.kind === 'folder') (await prepareCorpus(data.path, model.tokenizer, preparing)).tokens.close();
  if (data.kind === 'jsonl') (await prepareSftRows(data.path, model, window, preparing)).rows.close();
}

/** The folder with the model's tokenizer files (an adapter's are its base's). */
export function tokenizerDir(base: ModelFiles): string {
  return base.kind === 'adapter' && base.base ? base.base.dir : base.dir;
}

/** Whether `path` (a run or one of its checkpoints) belongs to a fine-tuning run. */
export function isFinetuneRun(path: string): boolean {
  const dir = resolve(path);
  const runDir = existsSync(join(dir, 'run.json')) ? dir : dirname(dirname(dir));
  return existsSync(join(runDir, 'run.json')) && readRunJson(runDir).finetune !== undefined;
}

/** `train --resume` of a fine-tuning run: its base, adapter and the base's corpus as they were. */
export async function resumeFinetuneJob(
  req: TrainRequest,
  engine: EngineInfo,
  emit: Emit,
  shouldStop: () => boolean,
  log: (message: string) => void,
): Promise<TrainResult> {
  const dir = resolveCheckpoint(req.resume!);
  const runDir = dirname(dirname(dir));
  const run = resumableRun(runDir, req.runDir);
  const record = run.finetune!;
  let resumeFrom: NonNullable<TrainJob['resume']>;
  let start: TrainJob['start'];
  let adapter: TrainJob['adapter'];
  let config;
  if (record.lora) {
    const base = readModelFolder(record.base);
    const ckpt = readAdapterCheckpoint(dir, base.config);
    const modules = [...ckpt.adapter.layers.keys()];
    start = {
      weights: base.weights,
      lora: { ...loraOptions(ckpt.adapter.settings, modules, ckpt.trainerState.seed), from: ckpt.adapter.layers },
    };
    adapter = { settings: ckpt.adapter.settings, base: ckpt.base };
    resumeFrom = { from: dir, weights: new Map(), optimizer: ckpt.optimizer, state: ckpt.trainerState };
    config = base.config;
  } else {
    const ckpt = readCheckpoint(dir, { withOptimizer: true });
    resumeFrom = { from: dir, weights: ckpt.weights, optimizer: ckpt.optimizer!, state: ckpt.trainerState };
    config = ckpt.config;
  }
  const tokenizerPath = join(dir, 'tokenizer.json');
  const tokenizer = modelTokenizer(readRegularFile(tokenizerPath), config, tokenizerPath);
  checkRunTokenizer(tokenizer, run, tokenizerPath);
  const saved = run.plan;
  const options = validateTrainOptions({
    ...saved.options,
    epochs: req.epochs ?? saved.options.epochs,
    maxSteps: req.maxSteps ?? saved.options.maxSteps,
  });
  const data = openTrainingData(req.corpusPath);
  const model = sftModel(tokenizer, record.base);
  await prepareOnDisk(data, model, trainingWindow(config, options), preparation(emit, shouldStop));
  const { prepared, plan } = dataPlan(data, model, config, options, req.corpusPath);
  let old: Awaited<ReturnType<typeof baseCorpus>> | undefined;
  try {
    const { tokens, examples } = prepared;
    if (plan.trainTokens !== saved.trainTokens || plan.examples !== saved.examples)
      throw new UserError(
        '{0} is not the text this fine-tuning run was trained on: resume with the same file, or start a new run',
        req.corpusPath,
      );
    checkStepsLeft(dir, resumeFrom.state.step, plan);
    checkFinetuneFits(plan, engine.backend, start?.weights ?? resumeFrom.weights, start?.lora);
    const notices: string[] = [];
    const threads = trainingThreads(req.threads, engine, options.batch, Boolean(record.lora), notices);
    old = record.base_corpus
      ? await baseCorpus(runOfCheckpoint(record.base, true), tokenizer, record.replay, preparation(emit, shouldStop))
      : undefined;
    if (old && 'why' in old) notices.push(`no forgetting meter and no replay: ${old.why}`);
    truncateMetrics(runDir, resumeFrom.state.step);
    updateRunJson(runDir, { status: 'training', trainer: thisTrainer(), plan });
    return await trainInRun(
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
        notices,
        resume: resumeFrom,
        start,
        adapter,
        baseCorpus: old && !('why' in old) ? old.tokens : undefined,
        examples,
        tokenizerFiles: record.lora ? undefined : keptTokenizerFiles(dir),
      },
      run,
    );
  } finally {
    if (old && 'close' in old) old.close();
    prepared.close?.();
  }
}

function loraOptions(s: LoraSettings, modules: string[], seed: number): LoraOptions {
  return { modules, r: s.r, scale: loraScale(s), dropout: s.dropout, seed };
}

/** Refuses a fine-tune that would not fit in memory; with LoRA, its adapters train on the base held as it will be (BF16 or float32). */
function checkFinetuneFits(plan: TrainPlan, backend: string, weights: NamedTensors, lora?: LoraOptions): void {
  const footprint = lora && {
    adapterParams: loraParameterCount(plan.model, lora.modules, lora.r),
    frozenBytes: frozenAsBf16(plan.model, weights) ? 2 : 4,
  };
  checkPlanFits(plan, backend, '--batch, --context', footprint);
}

/** LoRA trains on one thread: the data-parallel replicas each hold a full trainable model. */
function trainingThreads(asked: number | undefined, engine: EngineInfo, batch: number, lora: boolean, notices: string[]): number {
  const threads = resolveTrainingThreads(asked, engine.backend, batch);
  if (!lora || threads === 1) return threads;
  if (asked !== undefined) notices.push(`LoRA trains on one thread on ${engine.backend} (the training threads share full models only)`);
  return 1;
}

/**
 * The base run's corpus, split as that run split it, from its prepared ids (close() when done), if
 * it is still on disk and unchanged; ids not cached are prepared with the run's own progress and Cancel.
 */
async function baseCorpus(
  baseRun: { dir: string; run: RunJson } | undefined,
  tokenizer: Tokenizer,
  replay: number,
  preparing: PrepareOptions,
): Promise<
  { why: string } | { tokens: NonNullable<TrainJob['baseCorpus']>; record: NonNullable<FinetuneRecord['base_corpus']>; close(): void }
> {
  const base = await runStepsAsync(baseRunTokensSteps(baseRun, tokenizer, preparing));
  if ('why' in base) return base;
  const { tokens, trainTokens, close } = base;
  const { path, sha256 } = baseRun!.run.corpus;
  return {
    tokens: { train: tokenRange(tokens, 0, trainTokens), val: tokenRange(tokens, trainTokens), replay },
    record: { path, sha256 },
    close,
  };
}
