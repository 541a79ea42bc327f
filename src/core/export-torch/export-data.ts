import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { readChatTemplate } from '../chat-template';
import { FinetuneRecord } from '../finetune';
import { runOfCheckpoint } from '../run-json';
import { evalWindowStarts } from '../batches';
import { textSize } from '../baselines';
import { UserError } from '../errors';
import { ExampleRows, firstRows, trainedTargets } from '../example-batches';
import { endOfTextId } from '../finetune-data';
import { PreparedExamples, prepareExamples } from '../finetune-folder';
import type { RunJson } from '../run-json';
import { IGNORED } from '../sft-examples';
import { Tokenizer } from '../tokenizer';
import { TokenDtype, TokenReader, tokenDtype } from '../prepared/token-file';
import { baseRunTokens, runTokens, writeTokenRange } from './token-files';
import { trainingWindow } from '../train-plan';
import { TrainOptions } from '../train-options';

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
    const prepared = runExamples(run, tokenizer, baseDir);
    return { data: exampleData(prepared.examples, run.plan.options, tokenizer), close: prepared.close };
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
 * The run's examples from the rows prepared on disk as the run prepared them (prepared again,
 * streamed, when the cache lost them: the base's chat template and end-of-text id, the run's
 * window), split with the run's seed, checked to be the plan's; close() when written.
 */
function runExamples(run: RunJson, tokenizer: Tokenizer, baseDir: string): PreparedExamples {
  const path = run.corpus.path;
  const { plan } = run;
  const model = { tokenizer, dir: baseDir, chat: readChatTemplate(baseDir), eosId: endOfTextId(baseDir, tokenizer) };
  const prepared = prepareExamples(path, model, trainingWindow(plan.model, plan.options), plan.options);
  try {
    if (prepared.source.sha256 !== run.corpus.sha256)
      throw new UserError(
        "{0} has changed since the run was trained on it (sha256 differs from run.json): the export needs the run's own data",
        path,
      );
    if (prepared.tokens.length - prepared.heldOut !== plan.trainTokens || prepared.examples.train.length !== plan.examples)
      throw new UserError("{0} no longer prepares to the run's {1} training tokens: it is not this run's data", path, plan.trainTokens);
    return prepared;
  } catch (e) {
    prepared.close();
    throw e;
  }
}

/**
 * Examples one per row: every training row, and the held-out rows Corpus Lab evaluates (the first
 * evalBatches × batch, trainer.ts), written a row at a time.
 */
function exampleData(examples: { train: ExampleRows; val: ExampleRows }, options: TrainOptions, tokenizer: Tokenizer): ExportedData {
  const train = examples.train;
  const val = firstRows(examples.val, options.evalBatches * options.batch);
  const scored = trainedTargets(val);
  const splits = { train: { rows: train, width: widest(train) }, val: { rows: val, width: widest(val) } };
  return {
    kind: 'examples',
    dtype: 'int32',
    write: (dir) => Object.entries(splits).flatMap(([split, { rows, width }]) => writeRows(dir, split, rows, width)),
    description: {
      kind: 'examples',
      train: rowDescription('train', train.length, splits.train.width),
      val: rowDescription('val', val.length, splits.val.width),
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

function widest(rows: ExampleRows): number {
  let width = 0;
  for (let i = 0; i < rows.length; i++) width = Math.max(width, rows.size(i));
  return width;
}

/** `split`-ids.bin, -labels.bin and -lengths.bin, a row at a time (fsynced); returns their names. */
function writeRows(dir: string, split: string, rows: ExampleRows, width: number): string[] {
  const names = [`${split}-ids.bin`, `${split}-labels.bin`, `${split}-lengths.bin`];
  const [ids, labels, lengths] = names.map((f) => openSync(join(dir, f), 'wx'));
  try {
    const rowIds = new Int32Array(width);
    const rowLabels = new Int32Array(width);
    const length = new Int32Array(1);
    for (let i = 0; i < rows.length; i++) {
      const r = rows.row(i);
      rowIds.fill(0).set(r.ids);
      rowLabels.fill(IGNORED).set(r.labels);
      length[0] = r.ids.length;
      writeAll(ids, rowIds);
      writeAll(labels, rowLabels);
      writeAll(lengths, length);
    }
    for (const fd of [ids, labels, lengths]) fsyncSync(fd);
  } finally {
    for (const fd of [ids, labels, lengths]) closeSync(fd);
  }
  return names;
}

function writeAll(fd: number, a: Int32Array): void {
  const bytes = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, bytes.length - at);
}

function rowDescription(split: string, rows: number, width: number) {
  return { rows, width, ids: `${split}-ids.bin`, labels: `${split}-labels.bin`, lengths: `${split}-lengths.bin` };
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
  if (baseRun?.run.corpus.sha256 !== record.base_corpus.sha256) return gone();
  const base = baseRunTokens(baseRun, tokenizer);
  if ('why' in base) return gone();
  const { tokens, trainTokens } = base;
  const dtype = tokenDtype(tokenizer.vocabSize);
  const replay = record.replay > 0;
  return {
    write: (dir) => {
      if (replay) writeTokenRange(tokens, dtype, 0, trainTokens, join(dir, 'replay.bin'));
      writeTokenRange(tokens, dtype, trainTokens, tokens.length, join(dir, 'base-val.bin'));
      return replay ? ['replay.bin', 'base-val.bin'] : ['base-val.bin'];
    },
    description: {
      ...(replay ? { replay: { file: 'replay.bin', dtype, fraction: record.replay } } : {}),
      base_val: { file: 'base-val.bin', dtype },
    },
    close: base.close,
  };
}
