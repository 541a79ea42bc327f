import { extname } from 'node:path';
import { checkCorpusFile } from './corpus';
import { isFolder, listDocuments } from './documents';
import { ExampleRows, splitExampleRows } from './example-batches';
import { FinetuneData, checkHeldOut, dataText, documentsEvent, exampleText, examplesEvent } from './finetune-data';
import { UnseenCharacters, UnseenCounter, unseenCharacters } from './finetune';
import { documentLayout } from './prepared/document-layout';
import { PrepareOptions, prepareCorpusSync } from './prepared/prepare-corpus';
import { documentFolder, documentFolderSteps } from './prepared/source-documents';
import { jsonlExampleSteps } from './prepared/source-jsonl';
import { prepareSftRowsSync } from './prepared/sft-rows';
import { runSteps } from './prepared/steps';
import { streamTextFile } from './prepared/source-text';
import { TokenReader } from './prepared/token-file';
import { SftModel } from './sft-examples';
import { TrainEvent } from './train-events';

/**
 * What a fine-tuning run trains on: a text file, a folder of documents or a .jsonl of examples,
 * prepared on disk (any size); or data read whole (the in-memory path tests compare with).
 */
export type TrainingData =
  FinetuneData | { kind: 'textFile'; path: string } | { kind: 'folder'; path: string } | { kind: 'jsonl'; path: string };

export function openTrainingData(path: string): TrainingData {
  if (isFolder(path)) {
    listDocuments(path); // a folder without documents is refused before any long work
    return { kind: 'folder', path };
  }
  checkCorpusFile(path);
  return extname(path).toLowerCase() === '.jsonl' ? { kind: 'jsonl', path } : { kind: 'textFile', path };
}

/** The characters of the data a char vocabulary lacks, read a chunk at a time. */
export function unseenCharactersOf(vocab: ReadonlySet<string>, data: TrainingData): UnseenCharacters {
  if (!('path' in data)) return unseenCharacters(vocab, dataText(data));
  const counter = new UnseenCounter(vocab);
  if (data.kind === 'textFile') streamTextFile(data.path, (text) => counter.add(text));
  else if (data.kind === 'folder') runSteps(documentFolderSteps(documentFolder(data.path), (text) => counter.add(text), noop));
  else {
    let first = true;
    runSteps(
      jsonlExampleSteps(data.path, (example) => {
        // As dataText joins the examples' texts.
        if (!first) counter.add('\n');
        first = false;
        counter.add(exampleText(example));
      }),
    );
  }
  return counter.result();
}

/** A text file's ids prepared with the model's tokenizer, held out at its end as in memory; close() when done. */
export function prepareText(path: string, model: SftModel, opts: PrepareOptions = {}): PreparedText {
  const prepared = prepareCorpusSync(path, model.tokenizer, opts);
  return { tokens: prepared.tokens, source: prepared.meta.source, close: () => prepared.tokens.close() };
}

export interface PreparedText {
  tokens: TokenReader;
  source: { bytes: number; sha256: string };
  close(): void;
}

/** A folder's documents prepared with the model's tokenizer, laid out as prepareData lays them out in memory; close() when done. */
export interface PreparedDocuments {
  tokens: TokenReader;
  heldOut: number;
  event: TrainEvent;
  source: { bytes: number; sha256: string };
  close(): void;
}

export function prepareDocuments(
  path: string,
  model: SftModel,
  context: number,
  valFraction: number,
  opts: PrepareOptions = {},
): PreparedDocuments {
  const prepared = prepareCorpusSync(path, model.tokenizer, opts);
  try {
    const { tokens, heldOut } = documentLayout(prepared.tokens, prepared.meta.documents, model.eosId, valFraction);
    return {
      tokens,
      heldOut,
      event: documentsEvent(tokens, heldOut, prepared.meta.documents.length, model, context),
      source: prepared.meta.source,
      close: () => prepared.tokens.close(),
    };
  } catch (e) {
    prepared.tokens.close();
    throw e;
  }
}

/** A .jsonl's examples prepared as rows on disk and split as prepareData splits them in memory; close() when done. */
export interface PreparedExamples {
  examples: { train: ExampleRows; val: ExampleRows };
  /** Tokens of the training and held-out rows (the plan's; the rows are read as rows, never as one stream). */
  tokens: TokenReader;
  heldOut: number;
  event: TrainEvent;
  source: { bytes: number; sha256: string };
  close(): void;
}

export function prepareExamples(
  path: string,
  model: SftModel,
  context: number,
  split: { valFraction: number; seed: number },
  opts: PrepareOptions = {},
): PreparedExamples {
  const prepared = prepareSftRowsSync(path, model, context, opts);
  try {
    const { meta, rows } = prepared;
    checkHeldOut(rows.length, path);
    const examples = splitExampleRows(rows, split.valFraction, split.seed);
    let heldOut = 0;
    for (let i = 0; i < examples.val.length; i++) heldOut += examples.val.size(i);
    return {
      examples,
      tokens: rowTokens(meta.tokens),
      heldOut,
      event: examplesEvent(meta.example_format, meta.counts, examples.train.row(0), examples.val.length, model.tokenizer),
      source: meta.source,
      close: () => rows.close(),
    };
  } catch (e) {
    prepared.rows.close();
    throw e;
  }
}

/** The rows' token count as a sequence that is never read as one: training reads examples by row. */
function rowTokens(length: number): TokenReader {
  return {
    length,
    view: () => {
      throw new Error('internal: examples are read by row, not as a token stream');
    },
  };
}

function noop(): void {}
