import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../errors';
import { TokenDtype } from '../prepared/token-file';
import { readCheckpoint, resolveCheckpoint, writeCheckpoint } from '../checkpoint';
import { readMetrics } from '../metrics';
import { RunJson, readRunJson } from '../run-json';
import { checkRunTokenizer } from '../model-tokenizer';
import { TrainPlan } from '../train-options';
import { writeFileAtomic } from '../atomic-write';
import { keptTokenizerFiles } from '../hf-export';
import { exportReadme } from './readme';
import { checkOutputPath } from '../output-path';
import { ADAPTER_CONFIG_FILE, sha256File } from '../lora-adapter';
import { LoraExport, exportLora } from './lora-export';
import { BaseText, ExportedData, baseText, exportData } from './export-data';
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
  /** text and documents: a token stream; examples: one per row. */
  data: 'tokens' | 'examples';
  dtype: TokenDtype | 'int32';
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
  /** The data's files, layout and order, and the base's text replayed and scored (export-data.ts). */
  data: Record<string, unknown>;
  /** The held-out tokens evaluation scores and their text's size, for bits per character and byte. */
  eval: ExportedData['scored'];
  /** run.json fields the run train.py writes carries over (corpus, tokenizer; a fine-tune's base, replay and base corpus). */
  run: { corpus: unknown; tokenizer: unknown; finetune?: unknown };
  /** sha256 of every file train.py reads, so a damaged copy is refused. */
  files: Record<string, string>;
}

/**
 * Writes a self-contained folder that continues a run in PyTorch: the checkpoint (Hugging Face
 * layout of its family, GPT-2 or Llama, with optimizer state), tokenizer, the data (a token stream, or examples one per row),
 * plan.json, train.py and README.md.
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
  const tokenizer = ckpt.tokenizer;
  checkRunTokenizer(tokenizer, run, join(checkpointDir, 'tokenizer.json'));
  const { data, close } = exportData({ ...run, plan }, tokenizer, run.finetune?.base ?? checkpointDir);
  let baseCorpus: BaseText | undefined;
  try {
    baseCorpus = baseText(run.finetune, data, tokenizer);
    return writeTorchExport(dir, checkpointDir, ckpt, plan, runDir, run, data, baseCorpus);
  } finally {
    baseCorpus?.close();
    close();
  }
}

/** The folder itself, with the run's data: a token stream (text, documents) or examples one per row (.jsonl). */
function writeTorchExport(
  dir: string,
  checkpointDir: string,
  ckpt: ReturnType<typeof readCheckpoint>,
  plan: TrainPlan,
  runDir: string,
  run: RunJson,
  data: ExportedData,
  baseCorpus: BaseText | undefined,
): TorchExport {
  const tokenizer = ckpt.tokenizer;
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
      // A fine-tune's special tokens and chat template, as its base had them.
      tokenizerFiles: keptTokenizerFiles(checkpointDir),
    });
    const digests: Record<string, string> = {};
    for (const file of [...data.write(temp), ...(baseCorpus?.write(temp) ?? [])]) digests[file] = sha256File(join(temp, file)).sha256;
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
      data: { ...data.description, ...baseCorpus?.description },
      eval: data.scored,
      run: { corpus: run.corpus, tokenizer: run.tokenizer, ...(run.finetune ? { finetune: run.finetune } : {}) },
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
        data: data.kind,
        dtype: data.dtype,
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
    data: data.kind,
    dtype: data.dtype,
  };
}
