import { statSync } from 'node:fs';
import { extname } from 'node:path';
import { configTokens } from './chat-template';
import { Corpus, readCorpus } from './corpus';
import { documentTokens, documentsSha256, readDocuments } from './documents';
import { splitExamples } from './example-batches';
import { endOfText } from './hf-export';
import { isObject, parseJsonObject } from './json';
import { SftExample, SftFormat, parseSftJsonl } from './sft-data';
import { SftCounts, SftModel, SftRow, tokenizeExamples } from './sft-examples';
import { previewParts } from './sft-preview';
import { UserError } from './errors';
import { Tokenizer } from './tokenizer';
import { TrainEvent } from './train-events';
import { TrainOptions } from './train-options';
import { TokenReader, memoryTokens, tokenChunks, tokenRange } from './prepared/token-file';

/**
 * `finetune BASE DATA`'s data read whole: a text file as one corpus, a folder of documents (.txt, .md)
 * as one corpus of documents, or a .jsonl of examples in TRL's formats. Runs prepare it on disk
 * instead (finetune-folder.ts openTrainingData); tests check that against this.
 */
export type FinetuneData =
  | { kind: 'text'; corpus: Corpus }
  | { kind: 'documents'; corpus: Corpus; docs: { path: string; text: string }[] }
  | { kind: 'examples'; corpus: Corpus; examples: SftExample[] };

export function readFinetuneData(path: string): FinetuneData {
  let folder = false;
  try {
    folder = statSync(path).isDirectory();
  } catch {
    // readCorpus says what is wrong with the path
  }
  if (folder) {
    const docs = readDocuments(path);
    const bytes = docs.reduce((n, d) => n + d.bytes, 0);
    return { kind: 'documents', docs, corpus: { text: '', bytes, sha256: documentsSha256(path, docs) } };
  }
  const corpus = readCorpus(path);
  if (extname(path).toLowerCase() === '.jsonl') return { kind: 'examples', corpus, examples: parseSftJsonl(corpus.text, path) };
  return { kind: 'text', corpus };
}

/** All the text of the data (a char model's vocabulary pre-flight reads it). */
export function dataText(data: FinetuneData): string {
  if (data.kind === 'documents') return data.docs.map((d) => d.text).join('\n');
  if (data.kind === 'text') return data.corpus.text;
  return data.examples.map(exampleText).join('\n');
}

/** The text of an example the vocabulary pre-flight reads. */
export function exampleText(e: SftExample): string {
  return 'text' in e ? e.text : 'messages' in e ? e.messages.map((m) => m.content).join('\n') : JSON.stringify([e.prompt, e.completion]);
}

export interface PreparedData {
  /** Token stream (text, documents: held-out part last) or, for examples, all their ids (train then held-out). */
  tokens: Int32Array;
  heldOut?: number;
  examples?: { train: SftRow[]; val: SftRow[] };
  /** Shown before training starts. */
  event?: TrainEvent;
}

/** The data tokenised for the model: streams for text and documents, rows for examples. */
export function prepareData(data: FinetuneData, model: SftModel, context: number, options: TrainOptions, source: string): PreparedData {
  if (data.kind === 'text') return { tokens: model.tokenizer.encodeAll(data.corpus.text) };
  if (data.kind === 'documents') {
    const { tokens, heldOut } = documentTokens(
      data.docs.map((d) => model.tokenizer.encodeAll(d.text)),
      model.eosId,
      options.valFraction,
    );
    return { tokens, heldOut, event: documentsEvent(memoryTokens(tokens), heldOut, data.docs.length, model, context) };
  }
  const { rows, counts } = tokenizeExamples(data.examples, model, context, source);
  checkHeldOut(rows.length, source);
  const split = splitExamples(rows, options.valFraction, options.seed);
  const ids = (r: SftRow[]) => r.reduce((n, x) => n + x.ids.length, 0);
  const tokens = new Int32Array(ids(split.train) + ids(split.val));
  let at = 0;
  for (const r of [...split.train, ...split.val]) {
    tokens.set(r.ids, at);
    at += r.ids.length;
  }
  return {
    tokens,
    heldOut: ids(split.val),
    examples: split,
    event: examplesEvent(data.examples[0].format, counts, split.train[0], split.val.length, model.tokenizer),
  };
}

/** Refuses examples too few to hold one out. */
export function checkHeldOut(rows: number, source: string): void {
  if (rows < 2) throw new UserError('{0}: {1} example(s) to train on, and at least one more is needed to hold out', source, rows);
}

/** The `data` event of examples: their counts, and the first training example as the model sees it. */
export function examplesEvent(format: SftFormat, counts: SftCounts, first: SftRow, heldOut: number, tokenizer: Tokenizer): TrainEvent {
  return {
    type: 'data',
    format,
    counts,
    held_out: heldOut,
    first: {
      ids: Array.from(first.ids),
      trained: Array.from(first.labels, (l, i) => i > 0 && l >= 0),
      parts: previewParts(first, tokenizer),
    },
  };
}

/** The `data` event of documents: their counts, and a training window across the first one's end. */
export function documentsEvent(tokens: TokenReader, heldOut: number, documents: number, model: SftModel, context: number): TrainEvent {
  const train = tokenRange(tokens, 0, tokens.length - heldOut);
  const start = previewWindowStart(train, model.eosId, context + 1);
  const ids = train.view(start, Math.min(train.length, start + context + 1)).slice();
  return {
    type: 'data',
    format: 'documents',
    documents,
    train_tokens: train.length,
    held_out_tokens: heldOut,
    window_start: start,
    first: {
      ids: Array.from(ids),
      trained: Array.from(ids, (_, i) => i > 0),
      parts: previewParts({ ids, labels: ids }, model.tokenizer, model.eosId),
    },
  };
}

/**
 * Where the document preview's window of `size` tokens starts: the first training window, or, when
 * the first document's end lies beyond it, a window with that end three quarters of the way in, so
 * the separator between documents shows.
 */
function previewWindowStart(train: TokenReader, eosId: number | undefined, size: number): number {
  const end = eosId === undefined ? -1 : firstIndexOf(train, eosId);
  if (end < size) return 0;
  return Math.max(0, Math.min(end - Math.floor((3 * size) / 4), train.length - size));
}

function firstIndexOf(tokens: TokenReader, id: number): number {
  let at = 0;
  for (const chunk of tokenChunks(tokens)) {
    const i = chunk.indexOf(id);
    if (i >= 0) return at + i;
    at += chunk.length;
  }
  return -1;
}

/** The model's end-of-text id: tokenizer_config.json's eos_token, else an added <|endoftext|>, </s> or <eos>. */
export function endOfTextId(dir: string, tokenizer: Tokenizer): number | undefined {
  const named = configTokens(dir).eosToken;
  if (!named) return endOfText(tokenizer.toJSON())?.id;
  const raw = parseJsonObject(tokenizer.toJSON(), 'tokenizer.json');
  const added = Array.isArray(raw.added_tokens) ? (raw.added_tokens as unknown[]).filter(isObject) : [];
  const t = added.find((a) => a.content === named && Number.isInteger(a.id));
  return t ? (t.id as number) : endOfText(tokenizer.toJSON())?.id;
}
