import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { listCheckpointsAsync } from './checkpoint';
import { RunStatus, effectiveStatus, parseRunJson } from './run-json';
import { readRegularFileAsync } from './safe-fs';
import { ModelConfig } from './model-config';
import { isObject } from './json';

export interface RunInfo {
  dir: string;
  name: string;
  status: RunStatus | 'interrupted' | 'unreadable';
  corpus?: string;
  valLoss?: number;
  step?: number;
  /** Tokenizer kind and vocabulary size, when run.json says. */
  tokenizer?: { kind: string; vocabSize: number };
  checkpoints: { dir: string; name: string; step: number; valLoss?: number }[];
  /** A fine-tuning run: its base model folder and whether it trains a LoRA adapter (rank r). */
  finetune?: { base: string; lora?: { r: number } };
  /** Models made from this run (merged, int8) in RUN/exports/, by name. */
  exports: { dir: string; name: string }[];
  /** Tokens per UTF-8 byte of its corpus under its tokenizer: its losses in terms other tokenizers' compare in. */
  tokensPerByte?: number;
  /** An arm of an experiment on another run (run.json's `experiment`). */
  experiment?: boolean;
  /** The model it trains (run.json's plan), when run.json has one. */
  model?: ModelConfig;
}

/** Where the editor writes a run's merged and int8 models. */
export const RUN_EXPORTS = 'exports';

/**
 * The runs under `root`, newest first; folders without run.json are skipped. Asynchronous: the
 * extension host calls it while training starts, and a cold disk must not hold its thread.
 */
export async function listRuns(root: string): Promise<RunInfo[]> {
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  const runs = await Promise.all(entries.filter((e) => e.isDirectory()).map((e) => readRun(join(root, e.name))));
  return runs.filter((r): r is RunInfo => r !== undefined).sort((a, b) => b.name.localeCompare(a.name));
}

/** A run folder's summary; undefined when it has no run.json. */
export async function readRun(dir: string): Promise<RunInfo | undefined> {
  const path = join(dir, 'run.json');
  let text: string;
  try {
    text = await readRegularFileAsync(path);
  } catch (e) {
    if (/no such file/.test((e as Error).message)) return undefined;
    text = '';
  }
  const checkpoints = (await listCheckpointsAsync(dir)).map((c) => ({ ...c, name: basename(c.dir) }));
  const exports = (await readdir(join(dir, RUN_EXPORTS), { withFileTypes: true }).catch(() => []))
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => ({ dir: join(dir, RUN_EXPORTS, e.name), name: e.name }))
    .sort((a, b) => a.name.localeCompare(b.name));
  try {
    const run = parseRunJson(text, path);
    const tokenizer =
      run.tokenizer && typeof run.tokenizer.vocabSize === 'number'
        ? { kind: run.tokenizer.kind, vocabSize: run.tokenizer.vocabSize }
        : undefined;
    const ft = run.finetune;
    const finetune =
      ft && typeof ft.base === 'string'
        ? { base: ft.base, lora: ft.lora && Number.isInteger(ft.lora.r) ? { r: ft.lora.r } : undefined }
        : undefined;
    return {
      dir,
      name: basename(dir),
      status: effectiveStatus(run),
      corpus: run.corpus.path,
      valLoss: run.val_loss,
      step: run.step,
      tokenizer,
      checkpoints,
      finetune,
      exports,
      tokensPerByte: run.corpus.bytes > 0 ? run.corpus.tokens / run.corpus.bytes : undefined,
      experiment: run.experiment !== undefined,
      model: isObject(run.plan.model) ? run.plan.model : undefined,
    };
  } catch {
    return { dir, name: basename(dir), status: 'unreadable', checkpoints, exports };
  }
}
