import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-write';
import { readChatTemplate } from '../chat-template';
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
import { TokenDtype, TokenReader, tokenDtype } from '../prepared/token-file';
import { preparedTextIfUnchanged, runTokens, writeTokenRange } from './token-files';
import { trainingWindow } from '../train-plan';

/** What train.py and train_peft.py read: token streams (text, documents) or examples one per row, and the held-out size for bits per character. */
export interface ExportedData {
  kind: 'tokens' | 'examples';
  /** How ids are stored: a token stream as nanoGPT's train.bin, examples as int32 rows. */
  dtype: TokenDtype | 'int32';
  /** Writes the data files into `dir`; returns their names. */
  write(dir: string): string[];
  /** plan.json's `data`. */
  description: Record<string, unknown>;
  /** The held-out tokens evaluation scores, and their text's size (bits per character and byte, as Corpus Lab reports them). */
  scored: { tokens: number; chars: number; bytes: number };
}

/**
 * The run's data as the export's script reads it, and what to close when it is written: a token
 * stream (a text file, a folder of documents, a .jsonl of texts) from the prepared ids the run
 * trained from (prepared again, streamed, when the cache lost them; never read whole in memory),
 * laid out as the run laid it out; examples prepared again as the run prepared them.
 */
export function exportData(run: RunJson, tokenizer: Tokenizer, baseDir: string): { data: ExportedData; close(): void } {
  if (run.plan.examples !== undefined) {
    const prepared = runData(run, tokenizer, baseDir);
    return { data: exampleData(prepared.examples!, tokenizer), close() {} };
  }
  const stream = runTokens(run, tokenizer, baseDir);
  if (!stream)
    throw new UserError(
      "{0} has changed since the run was trained on it (sha256 differs from run.json): the export needs the run's own corpus",
      run.corpus.path,
    );
  try {
    return { data: tokenData(stream.tokens, run, tokenizer), close: stream.close };
  } catch (e) {
    stream.close();
    throw e;
  }
}

/**
 * The run's examples prepared again as the run prepared them (the base's chat template and
 * end-of-text id, the run's window, split and seed), checked to be the same as the plan's.
 */
function runData(run: RunJson, tokenizer: Tokenizer, baseDir: string): PreparedData {
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

function exampleData({ train, val }: { train: SftRow[]; val: SftRow[] }, tokenizer: Tokenizer): ExportedData {
  const scored = trainedTargets(val);
  const files = { ...rowFiles('train', train), ...rowFiles('val', val) };
  return {
    kind: 'examples',
    dtype: 'int32',
    write: (dir) => {
      for (const [file, data] of Object.entries(files)) writeFileAtomic(join(dir, file), data);
      return Object.keys(files);
    },
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

function tokenData(ids: TokenReader, run: RunJson, tokenizer: Tokenizer): ExportedData {
  const { plan } = run;
  const dtype = tokenDtype(tokenizer.vocabSize);
  const context = trainingWindow(plan.model, plan.options);
  const windows = evalWindowStarts(ids.length - plan.trainTokens, context, plan.options.evalBatches * plan.options.batch).length;
  const scored = ids.view(plan.trainTokens + 1, plan.trainTokens + windows * context + 1);
  return {
    kind: 'tokens',
    dtype,
    write: (dir) => {
      writeTokenRange(ids, dtype, 0, plan.trainTokens, join(dir, 'train.bin'));
      writeTokenRange(ids, dtype, plan.trainTokens, ids.length, join(dir, 'val.bin'));
      return ['train.bin', 'val.bin'];
    },
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

/** The base's own text: rows of its training part replayed (replay.bin), its held-out part for the forgetting meter (base-val.bin). */
export interface BaseText {
  /** Writes the files into `dir`; returns their names. */
  write(dir: string): string[];
  /** plan.json's `data.replay` and `data.base_val`. */
  description: { replay?: { file: string; dtype: TokenDtype; fraction: number }; base_val: { file: string; dtype: TokenDtype } };
  close(): void;
}

/**
 * The base run's corpus (core/finetune.ts replayRows, trainer.ts base_val_loss) of a fine-tune on a
 * token stream, from its prepared ids, split as the base run split it. Undefined when the run is no
 * fine-tune, trains on examples (one per row, with nothing of the base's text replayed or scored),
 * recorded no base corpus, or when that is gone and nothing is replayed (then, as on a resume here,
 * there is no forgetting meter); refused when rows of it are replayed.
 */
export function baseText(record: FinetuneRecord | undefined, data: ExportedData, tokenizer: Tokenizer): BaseText | undefined {
  if (!record?.base_corpus || data.kind === 'examples') return undefined;
  const { path } = record.base_corpus;
  const gone = () => {
    if (record.replay <= 0) return undefined;
    throw new UserError(
      "{0}, the base's corpus this run replays, has changed or its run is gone: continue this run here with train --resume",
      path,
    );
  };
  const baseRun = runOfCheckpoint(record.base, true);
  if (!baseRun || !existsSync(path)) return gone();
  const prepared = preparedTextIfUnchanged(record.base_corpus, tokenizer);
  if (!prepared) return gone();
  const ids = prepared.tokens;
  const { trainTokens, valTokens } = baseRun.run.plan;
  if (ids.length !== trainTokens + valTokens) {
    ids.close();
    return gone();
  }
  const replay = record.replay > 0;
  return {
    write: (dir) => {
      if (replay) writeTokenRange(ids, ids.dtype, 0, trainTokens, join(dir, 'replay.bin'));
      writeTokenRange(ids, ids.dtype, trainTokens, ids.length, join(dir, 'base-val.bin'));
      return replay ? ['replay.bin', 'base-val.bin'] : ['base-val.bin'];
    },
    description: {
      ...(replay ? { replay: { file: 'replay.bin', dtype: ids.dtype, fraction: record.replay } } : {}),
      base_val: { file: 'base-val.bin', dtype: ids.dtype },
    },
    close: () => ids.close(),
  };
}
