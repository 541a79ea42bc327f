import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { relative } from 'node:path';
import { DocumentsHash, listDocuments } from '../documents';
import { UserError, isUserError } from '../errors';
import { PreparationCancelled, SourceFile, StreamOptions, TextSink, textFileSteps } from './source-text';
import { Steps } from './steps';

/** A folder's documents as preparation reads them: each in its turn, in the order readDocuments gives. */
export interface DocumentFolder {
  dir: string;
  documents: { path: string; bytes: number }[];
  bytes: number;
  /** Changes when a document is added, removed, renamed, rewritten or touched (recorded beside the folder's sha256). */
  listing: string;
}

export function documentFolder(dir: string): DocumentFolder {
  const listing = createHash('sha256');
  let bytes = 0;
  const documents = listDocuments(dir).map((path) => {
    const s = statOf(path);
    listing.update(`${relative(dir, path)}\0${s.size}\0${s.mtimeMs}\0${s.ino}\0\0`);
    bytes += s.size;
    return { path, bytes: s.size };
  });
  return { dir, documents, bytes, listing: listing.digest('hex') };
}

/**
 * Streams each document's text to `onText` (as a text file is streamed: checked for binary, UTF-8,
 * a BOM dropped), calling `onDocumentEnd` after each; returns the folder's size and sha256 (documentsSha256).
 */
export function* documentFolderSteps(
  folder: DocumentFolder,
  onText: TextSink,
  onDocumentEnd: () => void,
  opts: StreamOptions = {},
): Steps<SourceFile> {
  const hash = new DocumentsHash(folder.dir);
  let before = 0;
  for (const doc of folder.documents) {
    const file: SourceFile = yield* readable(
      doc.path,
      textFileSteps(doc.path, onText, {
        ...opts,
        // A small document gets a buffer of its size, not a whole chunk (a folder may hold many thousands).
        chunkBytes: Math.min(opts.chunkBytes ?? DOCUMENT_CHUNK_BYTES, Math.max(1, doc.bytes)),
        onBytes: (done) => opts.onBytes?.(before + done, folder.bytes),
      }),
    );
    onDocumentEnd();
    hash.add(file);
    before += file.bytes;
  }
  return { path: folder.dir, bytes: before, sha256: hash.digest() };
}

/** The steps, with a failure to read the document (permissions, a vanished file) named as one line. */
function* readable<T>(path: string, steps: Steps<T>): Steps<T> {
  try {
    return yield* steps;
  } catch (e) {
    if (isUserError(e) || e instanceof PreparationCancelled) throw e;
    throw new UserError('{0}: cannot read ({1})', path, (e as NodeJS.ErrnoException).code ?? String(e));
  }
}

const DOCUMENT_CHUNK_BYTES = 4 << 20;

function statOf(path: string) {
  try {
    return statSync(path);
  } catch (e) {
    throw new UserError('{0}: cannot read ({1})', path, (e as NodeJS.ErrnoException).code ?? String(e));
  }
}
