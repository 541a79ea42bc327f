import { isFolder, listDocuments } from './documents';
import { FinetuneData, dataText, documentsEvent, readFinetuneData } from './finetune-data';
import { UnseenCharacters, UnseenCounter, unseenCharacters } from './finetune';
import { documentLayout } from './prepared/document-layout';
import { PrepareOptions, prepareCorpusSync } from './prepared/prepare-corpus';
import { documentFolder, documentFolderSteps } from './prepared/source-documents';
import { runSteps } from './prepared/steps';
import { TokenReader } from './prepared/token-file';
import { SftModel } from './sft-examples';
import { TrainEvent } from './train-events';

/** What a fine-tuning run trains on: a folder of documents is prepared on disk (any size); a text or a .jsonl is read whole. */
export type TrainingData = FinetuneData | { kind: 'folder'; path: string };

export function openTrainingData(path: string): TrainingData {
  if (!isFolder(path)) return readFinetuneData(path);
  listDocuments(path); // a folder without documents is refused before any long work
  return { kind: 'folder', path };
}

/** The characters of the data a char vocabulary lacks; a folder's documents are read a chunk at a time. */
export function unseenCharactersOf(vocab: ReadonlySet<string>, data: TrainingData): UnseenCharacters {
  if (data.kind !== 'folder') return unseenCharacters(vocab, dataText(data));
  const counter = new UnseenCounter(vocab);
  runSteps(documentFolderSteps(documentFolder(data.path), (text) => counter.add(text), noop));
  return counter.result();
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

function noop(): void {}
