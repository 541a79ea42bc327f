import { copyFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UserError } from '../errors';
import { readRunJson } from '../run-json';
import { readMetrics } from '../metrics';
import { readModelFolder } from '../model-folder';
import { checkRunTokenizer, modelTokenizer } from '../model-tokenizer';
import { readRegularFile } from '../safe-fs';
import { readAdapterCheckpoint } from '../adapter-checkpoint';
import { writeFileAtomic } from '../atomic-write';
import { learningRateSchedule, scriptPath, writeNewFolder } from './folder';
import { sha256File } from '../lora-adapter';
import { BaseText, baseText, exportData } from './export-data';
import { loraExportReadme } from './lora-readme';

export interface LoraExport {
  dir: string;
  checkpoint: string;
  step: number;
  totalSteps: number;
  trainTokens: number;
  valTokens: number;
  /** text and documents: a token stream; examples: one per row. */
  data: 'tokens' | 'examples';
  /** Where the GPU machine finds the base: copied into base/, or at the path it had here. */
  base: { path: string; copied: boolean; bytes: number };
}

/**
 * Writes a folder that continues a LoRA fine-tune with transformers + PEFT (train_peft.py): the
 * base's reference (base.json: folder, weights file, sha256; the base itself under base/ with
 * `withBase`), the adapter so far as its checkpoint (PEFT's files, AdamW moments, trainer state),
 * the prepared data, plan.json, the scripts and README.md. The folder appears whole or not at all.
 */
export function exportLora(checkpointDir: string, runDir: string, dir: string, withBase: boolean): LoraExport {
  const run = readRunJson(runDir);
  const record = run.finetune;
  if (!record?.lora)
    throw new UserError('{0} is a LoRA adapter, but its run.json records no LoRA fine-tune: it cannot be continued', checkpointDir);
  const base = readModelFolder(record.base);
  const ckpt = readAdapterCheckpoint(checkpointDir, base.config);
  const plan = ckpt.trainerState.plan ?? run.plan;
  const tokenizerPath = join(checkpointDir, 'tokenizer.json');
  const tokenizerJson = readRegularFile(tokenizerPath);
  const tokenizer = modelTokenizer(tokenizerJson, base.config, tokenizerPath);
  checkRunTokenizer(tokenizer, run, tokenizerPath);
  const { data, close } = exportData({ ...run, plan }, tokenizer, record.base);
  let baseCorpus: BaseText | undefined;
  try {
    baseCorpus = baseText(record, data, tokenizer);
    const state = ckpt.trainerState;
    const name = basename(checkpointDir);
    const baseFiles = readdirSync(record.base).filter((f) => !f.startsWith('.') && statSync(join(record.base, f)).isFile());

    writeNewFolder(dir, (temp) => {
      mkdirSync(join(temp, 'checkpoints', name), { recursive: true });
      for (const f of readdirSync(checkpointDir)) copyFileSync(join(checkpointDir, f), join(temp, 'checkpoints', name, f));
      if (withBase) {
        mkdirSync(join(temp, 'base'));
        for (const f of baseFiles) copyFileSync(join(record.base, f), join(temp, 'base', f));
      }
      const files: Record<string, Buffer | string> = {
        'tokenizer.json': tokenizerJson,
        'metrics.jsonl': readMetrics(runDir)
          .filter((r) => typeof r.step !== 'number' || r.step <= state.step)
          .map((r) => JSON.stringify(r) + '\n')
          .join(''),
      };
      files['base.json'] = JSON.stringify({ ...ckpt.base, copied: withBase ? 'base' : null }, null, 2) + '\n';
      data.write(temp);
      baseCorpus?.write(temp);
      for (const [file, content] of Object.entries(files)) writeFileAtomic(join(temp, file), content);
      for (const script of ['train.py', 'train_peft.py'] as const) copyFileSync(scriptPath(script), join(temp, script));
      const digests: Record<string, string> = {};
      // Streamed: a copied base is gigabytes.
      for (const rel of filesUnder(temp)) digests[rel] = sha256File(join(temp, rel)).sha256;
      const exportPlan = {
        format: 'corpus-lab-peft-export',
        format_version: 1,
        created: new Date().toISOString(),
        source: { run: runDir, checkpoint: checkpointDir },
        lora: ckpt.adapter.settings,
        plan,
        start: { checkpoint: `checkpoints/${name}`, step: state.step, epoch: state.epoch, cursor: state.cursor, seed: state.seed },
        lr_schedule: learningRateSchedule(plan),
        data: { ...data.description, ...baseCorpus?.description },
        eval: data.scored,
        run: { corpus: run.corpus, tokenizer: run.tokenizer, finetune: record },
        files: digests,
      };
      writeFileAtomic(join(temp, 'plan.json'), JSON.stringify(exportPlan, null, 2) + '\n');
      writeFileAtomic(
        join(temp, 'README.md'),
        loraExportReadme({
          folder: basename(dir),
          checkpoint: name,
          step: state.step,
          totalSteps: plan.totalSteps,
          batch: plan.options.batch,
          base: record.base,
          withBase,
          data: data.kind,
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
      base: {
        path: record.base,
        copied: withBase,
        bytes: baseFiles.reduce((n, f) => n + statSync(join(record.base, f)).size, 0),
      },
    };
  } finally {
    baseCorpus?.close();
    close();
  }
}

/** Every file under `dir`, as paths relative to it. */
function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(dir, join(prefix, e.name)) : [join(prefix, e.name)],
  );
}
