import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { Message, UserError, message } from './errors';
import { isObject, parseJsonObject } from './json';
import { readRegularFile } from './safe-fs';
import { writeFileAtomic } from './atomic-write';
import type { TrainPlan } from './train-options';
import type { TokenizerKind } from './tokenizer';
import { processAlive } from './process-alive';
import type { FinetuneRecord } from './finetune';
import type { Corpus } from './corpus';
import type { CleanRule } from './clean';

export type RunStatus = 'training' | 'completed' | 'cancelled' | 'failed';
const STATUSES: readonly RunStatus[] = ['training', 'completed', 'cancelled', 'failed'];

/** run.json: what a run folder holds and how it stands (docs/DESIGN.md §3). One reader, one writer. */
export interface RunJson {
  format_version: 1;
  created: string;
  /** `clean`: the optional rules of a text cleaned as it was prepared (absent: trained on the text as it is). */
  corpus: { path: string; sha256: string; bytes: number; tokens: number; clean?: CleanRule[] };
  tokenizer: { kind: TokenizerKind; vocabSize: number; sha256: string };
  backend: { name: string; threads: number; blas?: string };
  plan: TrainPlan;
  status: RunStatus;
  /** While training: the process doing it, so a run whose process died reads as interrupted. */
  trainer?: { pid: number; host: string };
  last_checkpoint?: string;
  step?: number;
  val_loss?: number;
  error?: string;
  /** The last `--resume` that failed before saving a step (the rest of run.json is as it was before it). */
  failed_resume?: { at: string; error: string };
  /** A fine-tuning run: its base, LoRA settings, replay and the base's corpus. */
  finetune?: FinetuneRecord;
  /** An arm of an experiment on another run: it never takes a file from a model by being newest. */
  experiment?: ExperimentArm;
}

/**
 * What an experiment run is: the LayerNorm vs DyT twin, the GPT-2 vs Llama block twin, or a repeat
 * with another seed, of the run in folder `of`.
 */
export interface ExperimentArm {
  kind: 'norm' | 'arch' | 'seed';
  of: string;
}

/** The run.json a new run starts with: training now, in this process. */
export function newRunJson(o: {
  corpusPath: string;
  corpus: Pick<Corpus, 'sha256' | 'bytes'> & { clean?: CleanRule[] };
  tokens: number;
  tokenizer: RunJson['tokenizer'];
  /** The engine's threads per training thread, times the training threads. */
  engine: { backend: string; threads: number; blas?: string };
  trainingThreads: number;
  plan: TrainPlan;
  finetune?: FinetuneRecord;
  experiment?: ExperimentArm;
  now?: Date;
}): RunJson {
  return {
    format_version: 1,
    created: (o.now ?? new Date()).toISOString(),
    corpus: {
      path: resolve(o.corpusPath),
      sha256: o.corpus.sha256,
      bytes: o.corpus.bytes,
      tokens: o.tokens,
      ...(o.corpus.clean ? { clean: o.corpus.clean } : {}),
    },
    tokenizer: o.tokenizer,
    backend: { name: o.engine.backend, threads: o.engine.threads * o.trainingThreads, blas: o.engine.blas },
    plan: o.plan,
    status: 'training',
    trainer: thisTrainer(),
    ...(o.finetune ? { finetune: o.finetune } : {}),
    ...(o.experiment ? { experiment: o.experiment } : {}),
  };
}

export function writeRunJson(runDir: string, run: RunJson): void {
  writeFileAtomic(join(runDir, 'run.json'), JSON.stringify(run, null, 2) + '\n');
}

export function readRunJson(runDir: string): RunJson {
  const path = join(runDir, 'run.json');
  if (!existsSync(path)) throw new UserError('{0} is not a Corpus Lab run folder (no run.json)', runDir);
  return parseRunJson(readRegularFile(path), path);
}

/** The run a checkpoint folder belongs to (…/RUN/checkpoints/NAME), if any. */
export function runOfCheckpoint(dir: string, isCheckpoint: boolean): { dir: string; run: RunJson } | undefined {
  const runDir = dirname(dirname(dir));
  if (!isCheckpoint || basename(dirname(dir)) !== 'checkpoints' || !existsSync(join(runDir, 'run.json'))) return undefined;
  return { dir: runDir, run: readRunJson(runDir) };
}

export function parseRunJson(text: string, path: string): RunJson {
  const o = parseJsonObject(text, path);
  const damaged = (why: Message) => new UserError('{0} is damaged ({1})', path, why);
  if (!STATUSES.includes(o.status as RunStatus)) throw damaged(message('status {0}', JSON.stringify(o.status)));
  if (!isObject(o.corpus) || typeof o.corpus.path !== 'string') throw damaged(message('no corpus path'));
  if (!isObject(o.plan)) throw damaged(message('no training plan'));
  return o as unknown as RunJson;
}

/** Rewrites run.json with `patch` applied (and `trainer` dropped unless the run is training). */
export function updateRunJson(runDir: string, patch: Partial<RunJson>): RunJson {
  const run = { ...readRunJson(runDir), ...patch };
  if (run.status !== 'training') delete run.trainer;
  writeRunJson(runDir, run);
  return run;
}

/** The process about to train a run, recorded in run.json while it does. */
export function thisTrainer(): RunJson['trainer'] {
  return { pid: process.pid, host: hostname() };
}

/**
 * The status to show: "training" whose process is gone (the editor or the CLI died mid-run) is
 * "interrupted". A run trained on another host, or by a live process, is taken at its word.
 */
export function effectiveStatus(run: Pick<RunJson, 'status' | 'trainer'>): RunStatus | 'interrupted' {
  if (run.status !== 'training') return run.status;
  const t = run.trainer;
  if (!t || t.host !== hostname()) return t ? 'training' : 'interrupted';
  return processAlive(t.pid) ? 'training' : 'interrupted';
}
