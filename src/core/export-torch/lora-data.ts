import { readChatTemplate } from '../chat-template';
import { readCorpus } from '../corpus';
import { FinetuneRecord } from '../finetune';
import { runOfCheckpoint } from '../run-json';
import { evalWindowStarts } from '../batches';
import { textSize } from '../baselines';
import { UserError } from '../errors';
import { trainedTargets } from '../example-batches';
import { PreparedData, endOfTextId, prepareData, readFinetuneData } from '../finetune-data';
import type { RunJson } from '../run-json';
import { IGNORED, SftRow } from '../sft-examples';
import { Tokenizer } from '../tokenizer';
import { trainingWindow } from '../train-plan';

/** What train_peft.py reads: token streams (text, documents) or examples one per row, and the held-out size for bits per character. */
export interface ExportedData {
  files: Record<string, Buffer>;
  /** plan.json's `data`. */
  description: Record<string, unknown>;
  /** The held-out tokens evaluation scores, and their text's size (bits per character and byte, as Corpus Lab reports them). */
  scored: { tokens: number; chars: number; bytes: number };
}

/**
 * The run's data prepared again as the run prepared it (the base's chat template and end-of-text
 * id, the run's window, split and seed), checked to be the same as the plan's.
 */
export function runData(run: RunJson, tokenizer: Tokenizer, baseDir: string): PreparedData {
  const path = run.corpus.path;
  const data = readFinetuneData(path);
  if (data.corpus.sha256 !== run.corpus.sha256)
    throw new UserError(
      "{0} has changed since the run was trained on it (sha256 differs from run.json): the export needs the run's own data",
      path,
    );
  const { plan } = run;
  const model = { tokenizer, dir: baseDir, chat: readChatTemplate(baseDir), eosId: endOfTextId(baseDir, tokenizer) };
  const prepared = prepareData(data, model, trainingWindow(plan.model, plan.options), plan.options, path);
  const trainTokens = prepared.tokens.length - (prepared.heldOut ?? plan.valTokens);
  if (trainTokens !== plan.trainTokens || prepared.examples?.train.length !== plan.examples)
    throw new UserError("{0} no longer prepares to the run's {1} training tokens: it is not this run's data", path, plan.trainTokens);
  return prepared;
}

export function exportedData(prepared: PreparedData, run: RunJson, tokenizer: Tokenizer): ExportedData {
  const { plan } = run;
  if (prepared.examples) {
    const { train, val } = prepared.examples;
    const scored = trainedTargets(val);
    return {
      files: { ...rowFiles('train', train), ...rowFiles('val', val) },
      description: {
        kind: 'examples',
        train: rowDescription('train', train),
        val: rowDescription('val', val),
        layout:
          'int32 little-endian [rows, width]: ids padded with 0, labels (the id where trained, else -100) padded with -100, and each row’s length; a batch is cut to its longest row, inputs ids[0..n-1), targets labels[1..n)',
        order:
          "epoch e (from 0): the training rows shuffled by mulberry32 seeded with mixSeed(seed, e, 0xe9a) (Corpus Lab's core/example-batches.ts)",
      },
      scored: { tokens: scored.length, ...textSize(tokenizer, scored) },
    };
  }
  const dtype = tokenizer.vocabSize <= 65536 ? 'uint16' : 'uint32';
  const ids = dtype === 'uint16' ? Uint16Array.from(prepared.tokens) : Uint32Array.from(prepared.tokens);
  const context = trainingWindow(plan.model, plan.options);
  const val = prepared.tokens.subarray(plan.trainTokens);
  const windows = evalWindowStarts(val.length, context, plan.options.evalBatches * plan.options.batch).length;
  const scored = val.subarray(1, windows * context + 1);
  return {
    files: { 'train.bin': bytesOf(ids.subarray(0, plan.trainTokens)), 'val.bin': bytesOf(ids.subarray(plan.trainTokens)) },
    description: {
      kind: 'tokens',
      train: 'train.bin',
      val: 'val.bin',
      dtype,
      byte_order: 'little',
      order:
        "epoch e (from 0): windows of context+1 tokens at shift + i·context of train.bin, shift and order drawn by mulberry32 seeded with mixSeed(seed, e, 0xe90c) (Corpus Lab's core/batches.ts)",
    },
    scored: { tokens: scored.length, ...textSize(tokenizer, scored) },
  };
}

function rowFiles(split: string, rows: SftRow[]): Record<string, Buffer> {
  const width = Math.max(...rows.map((r) => r.ids.length));
  const ids = new Int32Array(rows.length * width);
  const labels = new Int32Array(rows.length * width).fill(IGNORED);
  rows.forEach((r, i) => {
    ids.set(r.ids, i * width);
    labels.set(r.labels, i * width);
  });
  return {
    [`${split}-ids.bin`]: bytesOf(ids),
    [`${split}-labels.bin`]: bytesOf(labels),
    [`${split}-lengths.bin`]: bytesOf(Int32Array.from(rows, (r) => r.ids.length)),
  };
}

function rowDescription(split: string, rows: SftRow[]) {
  const width = Math.max(...rows.map((r) => r.ids.length));
  return { rows: rows.length, width, ids: `${split}-ids.bin`, labels: `${split}-labels.bin`, lengths: `${split}-lengths.bin` };
}

function bytesOf(a: Uint16Array | Uint32Array | Int32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * The base's own training text a run replays a share of (core/finetune.ts replayRows), encoded and
 * split as the base run split it; undefined when the run replays nothing.
 */
export function replayFile(record: FinetuneRecord, tokenizer: Tokenizer): Buffer | undefined {
  if (!record.base_corpus || record.replay <= 0) return undefined;
  const { path, sha256 } = record.base_corpus;
  const baseRun = runOfCheckpoint(record.base, true);
  const corpus = baseRun && readCorpus(path);
  if (!baseRun || corpus!.sha256 !== sha256)
    throw new UserError(
      "{0}, the base's corpus this run replays, has changed or its run is gone: continue this run here with train --resume",
      path,
    );
  const ids = Int32Array.from(tokenizer.encodeAll(corpus!.text).slice(0, baseRun.run.plan.trainTokens));
  return bytesOf(ids);
}
