import { statSync } from 'node:fs';
import { checkCorpusFile } from '../corpus';
import { documentFolder, documentFolderSteps } from './source-documents';
import { SourceStamp } from './prepared-cache';
import { SourceFile, StreamOptions, TextSink, textFileSteps } from './source-text';
import { Steps } from './steps';

/** What is prepared: a text file (one document) or a folder of documents. */
export interface CorpusSource {
  path: string;
  folder: boolean;
  /** Bytes of text in all (the disk check's bound). */
  bytes: number;
  /** What its recorded sha256 is trusted by while unchanged. */
  stamp: SourceStamp;
  /** Streams the text, with `onDocumentEnd` after each document; returns its size and sha256. */
  steps(onText: TextSink, onDocumentEnd: () => void, opts: StreamOptions): Steps<SourceFile>;
}

export function corpusSource(path: string): CorpusSource {
  if (isFolder(path)) {
    const folder = documentFolder(path);
    return {
      path,
      folder: true,
      bytes: folder.bytes,
      stamp: { size: folder.bytes, mtimeMs: 0, ino: 0, listing: folder.listing },
      steps: (onText, onDocumentEnd, opts) => documentFolderSteps(folder, onText, onDocumentEnd, opts),
    };
  }
  const stat = checkCorpusFile(path);
  return {
    path,
    folder: false,
    bytes: stat.size,
    stamp: stat,
    *steps(onText, onDocumentEnd, opts) {
      const file = yield* textFileSteps(path, onText, opts);
      onDocumentEnd();
      return file;
    },
  };
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // checkCorpusFile says what is wrong with the path
  }
}
