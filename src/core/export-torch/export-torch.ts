import { copyFileSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { UserError } from '../errors';
import { PreparedCorpus, prepareCorpusSync } from '../prepared/prepare-corpus';
import { TokenDtype, tokenDtype } from '../prepared/token-file';
import { readCheckpoint, resolveCheckpoint, writeCheckpoint } from '../checkpoint';
import { readMetrics } from '../metrics';
import { RunJson, readRunJson } from '../run-json';
import { checkRunTokenizer } from '../model-tokenizer';
import { Tokenizer } from '../tokenizer';
import { TrainPlan } from '../train-options';
import { writeFileAtomic } from '../atomic-write';
import { exportReadme } from './readme';
import { checkOutputPath } from '../output-path';
import { ADAPTER_CONFIG_FILE } from '../lora-adapter';
import { LoraExport, exportLora } from './lora-export';
import { runData } from './lora-data';
import { learningRateSchedule, scriptPath, sha256, writeNewFolder } from './folder';

export type { TokenDtype };

export interface TorchExport {
  dir: string;
  /** The exported checkpoint, as a path inside `dir`. */
  checkpoint: string;
  step: number;
  totalSteps: number;
  trainTokens: number;
  valTokens: number;
  dtype: TokenDtype;
}

/** plan.json: what train.py needs beyond the checkpoint, and what a reader needs to check it. */
export interface ExportPlan {
  format: 'corpus-lab-torch-export';
  format_version: 1;
  created: string;
  source: { run: string; checkpoint: string };
  plan: TrainPlan;
  start: { checkpoint: string; step: number; epoch: number; cursor: number; seed: number };
  lr_schedule: { kind: 'linear warm-up, then cosine to minLr'; lr: number; minLr: number; warmupSteps: number; totalSteps: number };
  data: { train: 'train.bin'; val: 'val.bin'; dtype: TokenDtype; byte_order: 'little'; order: string };
  /** run.json fields the run train.py writes carries over (corpus, tokenizer). */
  run: { corpus: unknown; tokenizer: unknown };
  /** sha256 of every file train.py reads, so a damaged copy is refused. */
  files: Record<string, string>;
}

const DATA_ORDER =
  'epoch e (from 0): windows of context+1 tokens at shift + i·context of train.bin, shift and order drawn by ' +
  "mulberry32 seeded with mixSeed(seed, e, 0xe90c) (Corpus Lab's core/rng.ts, core/batches.ts; train.py's epoch_starts); " +
  'batch k of the epoch takes windows k·batch … k·batch+batch−1 of that order, wrapping around';

/**
 * Writes a self-contained folder that continues a run in PyTorch: the checkpoint (Hugging Face
 * layout of its family, GPT-2 or Llama, with optimizer state), tokenizer, token files, plan.json, train.py and README.md.
 * The folder appears whole or not at all.
 */
export function exportTorch(source: string, outDir: string, options: { withBase?: boolean } = {}): TorchExport | LoraExport {
  const checkpointDir = resolveCheckpoint(source);
  const dir = checkOutputPath(outDir, 'empty-folder');
  if (existsSync(join(checkpointDir, ADAPTER_CONFIG_FILE)))
    return exportLora(checkpointDir, dirname(dirname(checkpointDir)), dir, options.withBase ?? false);
  if (options.withBase)
    throw new UserError(
      '--with-base copies the base model of a LoRA fine-tune; {0} trains every weight, and its checkpoint is the whole model',
      checkpointDir,
    );
  const ckpt = readCheckpoint(checkpointDir, { withOptimizer: true });
  const plan = ckpt.trainerState.plan;
  if (!plan) throw new UserError('{0}: trainer_state.json has no training plan, so this checkpoint cannot be continued', checkpointDir);
  const runDir = dirname(dirname(checkpointDir));
  const run = readRunJson(runDir);
  refuseExamples(run.corpus.path);
  const tokenizer = ckpt.tokenizer;
  checkRunTokenizer(tokenizer, run, join(checkpointDir, 'tokenizer.json'));
  const prepared = preparedText(run, tokenizer);
  try {
    return writeTorchExport(
      dir,
      checkpointDir,
      ckpt,
      plan,
      runDir,
      run,
      prepared ?? runData(run, tokenizer, run.finetune?.base ?? checkpointDir).tokens,
    );
  } finally {
    prepared?.tokens.close();
  }
}

/**
 * The folder itself. `ids`: the run's token stream, prepared on disk (a text file: train.bin and
 * val.bin are copied from its ids as they are stored, never held in memory) or in memory (documents).
 */
function writeTorchExport(
  dir: string,
  checkpointDir: string,
  ckpt: ReturnType<typeof readCheckpoint>,
  plan: TrainPlan,
  runDir: string,
  run: RunJson,
  ids: PreparedCorpus | Int32Array,
): TorchExport {
  const tokenizer = ckpt.tokenizer;
  const count = ids instanceof Int32Array ? ids.length : ids.meta.tokens;
  if (count !== plan.trainTokens + plan.valTokens) {
    throw new UserError(
      "{0} encodes to {1} tokens but the run's plan has {2}: it is not this run's corpus",
      run.corpus.path,
      count,
      plan.trainTokens + plan.valTokens,
    );
  }
  const dtype: TokenDtype = tokenDtype(tokenizer.vocabSize);
  const writeTokens = (file: string, start: number, end: number): string => {
    if (!(ids instanceof Int32Array)) return ids.tokens.copyRange(start, end, file);
    const part = ids.subarray(start, end);
    const typed = dtype === 'uint16' ? Uint16Array.from(part) : Uint32Array.from(part);
    const data = Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength);
    writeFileAtomic(file, data);
    return sha256(data);
  };

  const name = basename(checkpointDir);
  const state = ckpt.trainerState;
  writeNewFolder(dir, (temp) => {
    const written = writeCheckpoint(temp, name, {
      config: ckpt.config,
      weights: ckpt.weights,
      optimizer: ckpt.optimizer!,
      trainerState: state,
      tokenizerJson: ckpt.tokenizerJson,
      tokenizerKind: tokenizer.kind,
    });
    const digests: Record<string, string> = {
      'train.bin': writeTokens(join(temp, 'train.bin'), 0, plan.trainTokens),
      'val.bin': writeTokens(join(temp, 'val.bin'), plan.trainTokens, count),
    };
    const files: Record<string, Buffer | string> = {
      'tokenizer.json': ckpt.tokenizerJson,
      'metrics.jsonl': readMetrics(runDir)
        .filter((r) => typeof r.step !== 'number' || r.step <= state.step)
        .map((r) => JSON.stringify(r) + '\n')
        .join(''),
    };
    for (const [file, data] of Object.entries(files)) {
      writeFileAtomic(join(temp, file), data);
      digests[file] = sha256(data);
    }
    for (const file of readdirSync(written)) digests[`checkpoints/${name}/${file}`] = sha256(readFileSync(join(written, file)));
    const exportPlan: ExportPlan = {
      format: 'corpus-lab-torch-export',
      format_version: 1,
      created: new Date().toISOString(),
      source: { run: runDir, checkpoint: checkpointDir },
      plan,
      start: { checkpoint: `checkpoints/${name}`, step: state.step, epoch: state.epoch, cursor: state.cursor, seed: state.seed },
      lr_schedule: learningRateSchedule(plan),
      data: { train: 'train.bin', val: 'val.bin', dtype, byte_order: 'little', order: DATA_ORDER },
      run: { corpus: run.corpus, tokenizer: run.tokenizer },
      files: digests,
    };
    writeFileAtomic(join(temp, 'plan.json'), JSON.stringify(exportPlan, null, 2) + '\n');
    copyFileSync(scriptPath('train.py'), join(temp, 'train.py'));
    writeFileAtomic(
      join(temp, 'README.md'),
      exportReadme({
        folder: basename(dir),
        checkpoint: name,
        step: state.step,
        totalSteps: plan.totalSteps,
        batch: plan.options.batch,
        dtype,
      }),
    );
  });
  return {
    dir,
    checkpoint: join(dir, 'checkpoints', name),
    step: state.step,
    totalSteps: plan.totalSteps,
    trainTokens: plan.trainTokens,
    valTokens: plan.valTokens,
    dtype,
  };
}

/** train.py reads one token stream cut into windows; a .jsonl's examples, one per row, are for a LoRA export (train_peft.py). */
function refuseExamples(dataPath: string): void {
  if (extname(dataPath).toLowerCase() === '.jsonl')
    throw new UserError(
      '{0} is a .jsonl of examples: export-torch continues full fine-tunes on text or documents, and LoRA fine-tunes on any data; continue this run here with train --resume, or fine-tune with --lora',
      dataPath,
    );
}

/** A run on a text file: its prepared ids (prepared now if they are not yet), checked to be of the run's own text. */
function preparedText(run: RunJson, tokenizer: Tokenizer): PreparedCorpus | undefined {
  const path = run.corpus.path;
  if (isFolder(path)) return undefined;
  const prepared = prepareCorpusSync(path, tokenizer);
  if (prepared.meta.source.sha256 !== run.corpus.sha256) {
    prepared.tokens.close();
    throw new UserError(
      "{0} has changed since the run was trained on it (sha256 differs from run.json): the export needs the run's own corpus",
      path,
    );
  }
  return prepared;
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
