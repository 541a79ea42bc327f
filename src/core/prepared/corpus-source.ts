import { extname } from 'node:path';
import { checkCorpusFile } from '../corpus';
import { isFolder } from '../documents';
import { documentFolder, documentFolderSteps } from './source-documents';
import { SourceStamp } from './prepared-cache';
import { JSONL_TEXTS, jsonlTextSteps } from './source-jsonl';
import { SourceFile, StreamOptions, TextSink, textFileSteps } from './source-text';
import { Steps } from './steps';

/** What is prepared: a text file (one document), a folder of documents, or a .jsonl of {"text"} examples (each a document). */
export interface CorpusSource {
  path: string;
  layout: PreparedLayout;
  /** Bytes of text in all (the disk check's bound). */
  bytes: number;
  /** What its recorded sha256 is trusted by while unchanged. */
  stamp: SourceStamp;
  /** Streams the text, with `onDocumentEnd` after each document; returns its size and sha256. */
  steps(onText: TextSink, onDocumentEnd: () => void, opts: StreamOptions): Steps<SourceFile>;
}

/** 'documents': held out per document, with the end-of-text id after each part (document-layout.ts); 'text': one text, held out at its end. */
export type PreparedLayout = 'text' | 'documents';

export function corpusSource(path: string): CorpusSource {
  if (isFolder(path)) {
    const folder = documentFolder(path);
    return {
      path,
      layout: 'documents',
      bytes: folder.bytes,
      stamp: { size: folder.bytes, mtimeMs: 0, ino: 0, listing: folder.listing },
      steps: (onText, onDocumentEnd, opts) => documentFolderSteps(folder, onText, onDocumentEnd, opts),
    };
  }
  const stat = checkCorpusFile(path);
  if (extname(path).toLowerCase() === '.jsonl')
    return {
      path,
      layout: 'documents',
      bytes: stat.size,
      stamp: { size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino, listing: JSONL_TEXTS },
      steps: (onText, onDocumentEnd, opts) => jsonlTextSteps(path, onText, onDocumentEnd, opts),
    };
  return {
    path,
    layout: 'text',
    bytes: stat.size,
    stamp: stat,
    *steps(onText, onDocumentEnd, opts) {
      const file = yield* textFileSteps(path, onText, opts);
      onDocumentEnd();
      return file;
    },
  };
}
