import { createHash } from 'node:crypto';
import { Dirent, readdirSync, statSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import { DEFAULT_MAX_CORPUS_BYTES, readCorpus } from './corpus';
import { UserError } from './errors';
import { formatBytes } from './format-bytes';

export const DOCUMENT_EXTENSIONS = ['.txt', '.md'];

export type Document = { path: string; text: string; bytes: number; sha256: string };

/** A folder's documents (.txt, .md, in its subfolders too, by path), each read as a corpus is; the total bounded as one corpus. */
export function readDocuments(dir: string, maxBytes = DEFAULT_MAX_CORPUS_BYTES): Document[] {
  const paths = listDocuments(dir);
  let total = 0;
  return paths.map((path) => {
    const doc = readCorpus(path, { maxBytes: maxBytes - total });
    total += doc.bytes;
    if (total > maxBytes)
      throw new UserError('the documents in {0} are over the {1} limit together: train on a part of them', dir, formatBytes(maxBytes));
    return { path, ...doc };
  });
}

/** Whether `path` is a folder (else a file, or nothing: reading it says what is wrong). */
export function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The paths of a folder's documents in the order they are read: .txt and .md, subfolders too, hidden ones and empty files skipped. */
export function listDocuments(dir: string): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { recursive: true, withFileTypes: true });
  } catch (e) {
    throw new UserError('{0}: cannot read ({1})', dir, (e as NodeJS.ErrnoException).code ?? String(e));
  }
  const paths = documentPaths(dir, entries)
    // An empty document (a placeholder) adds nothing; readCorpus would refuse it as a whole corpus.
    .filter((p) => statSync(p).size > 0)
    .sort();
  if (paths.length === 0) throw new UserError('{0} has no .txt or .md documents to train on', dir);
  return paths;
}

/** The .txt and .md files among a folder's entries (read recursively), hidden ones and those in hidden folders left out. */
function documentPaths(dir: string, entries: Dirent[]): string[] {
  return entries
    .filter((e) => e.isFile() && DOCUMENT_EXTENSIONS.includes(extname(e.name).toLowerCase()))
    .map((e) => join(e.parentPath, e.name))
    .filter(
      (p) =>
        !relative(dir, p)
          .split(/[\\/]/)
          .some((part) => part.startsWith('.')),
    );
}

/** The bytes of a folder's documents together (those listDocuments lists), read without blocking the thread. */
export async function documentsBytes(dir: string): Promise<number> {
  const paths = documentPaths(dir, await readdir(dir, { recursive: true, withFileTypes: true }));
  const sizes = await Promise.all(paths.map(async (p) => (await stat(p)).size));
  return sizes.reduce((a, b) => a + b, 0);
}

/** A folder's identity: each document's name (within it), size and sha256, so a change in any one is another corpus. */
export function documentsSha256(dir: string, docs: Iterable<{ path: string; bytes: number; sha256: string }>): string {
  const hash = new DocumentsHash(dir);
  for (const d of docs) hash.add(d);
  return hash.digest();
}

/** documentsSha256 a document at a time (a folder streamed need not keep them). */
export class DocumentsHash {
  private readonly hash = createHash('sha256');
  constructor(private readonly dir: string) {}

  add(d: { path: string; bytes: number; sha256: string }): void {
    this.hash.update(`${relative(this.dir, d.path)}\0${d.bytes}\0${d.sha256}\0`);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

/**
 * One corpus of documents with its held-out part taken per document: the last `valFraction` of
 * each one's tokens (so every document is both learned and measured), the held-out parts after all
 * the training parts. Each part ends with the end-of-text id, so no training window runs from one
 * document into the next without the separator the model reads between documents.
 */
export function documentTokens(
  docs: Int32Array[],
  eosId: number | undefined,
  valFraction: number,
): { tokens: Int32Array; heldOut: number } {
  const cuts = docs.map((ids) => trainedLength(ids.length, valFraction));
  const train = docs.map((ids, i) => ids.subarray(0, cuts[i]));
  const held = docs.map((ids, i) => ids.subarray(cuts[i]));
  const ends = eosId === undefined ? 0 : 1;
  const length = (parts: Int32Array[]) => parts.reduce((n, p) => n + (p.length && p.length + ends), 0);
  const tokens = new Int32Array(length(train) + length(held));
  let at = 0;
  for (const part of [...train, ...held].filter((p) => p.length > 0)) {
    tokens.set(part, at);
    at += part.length;
    if (eosId !== undefined) tokens[at++] = eosId;
  }
  return { tokens, heldOut: length(held) };
}

/** How many of a document's first tokens are trained on; the rest are held out. */
export function trainedLength(tokens: number, valFraction: number): number {
  return tokens - Math.round(tokens * valFraction);
}
