import { Dirent, readdirSync, statSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { DEFAULT_MAX_CORPUS_BYTES, readCorpus } from './corpus';
import { UserError } from './errors';
import { formatBytes } from './format-bytes';

export const DOCUMENT_EXTENSIONS = ['.txt', '.md'];

/** A folder's documents (.txt, .md, in its subfolders too, by path), each read as a corpus is; the total bounded as one corpus. */
export function readDocuments(dir: string, maxBytes = DEFAULT_MAX_CORPUS_BYTES): { path: string; text: string }[] {
  const paths = (readdirSync(dir, { recursive: true, withFileTypes: true }) as Dirent[])
    .filter((e) => e.isFile() && DOCUMENT_EXTENSIONS.includes(extname(e.name).toLowerCase()))
    .map((e) => join(e.parentPath, e.name))
    .filter(
      (p) =>
        !relative(dir, p)
          .split(/[\\/]/)
          .some((part) => part.startsWith('.')),
    )
    // An empty document (a placeholder) adds nothing; readCorpus would refuse it as a whole corpus.
    .filter((p) => statSync(p).size > 0)
    .sort();
  if (paths.length === 0) throw new UserError('{0} has no .txt or .md documents to train on', dir);
  let total = 0;
  return paths.map((path) => {
    const doc = readCorpus(path, { maxBytes: maxBytes - total });
    total += doc.bytes;
    if (total > maxBytes)
      throw new UserError('the documents in {0} are over the {1} limit together: train on a part of them', dir, formatBytes(maxBytes));
    return { path, text: doc.text };
  });
}

/**
 * One corpus of documents, each followed by the end-of-text id, with its held-out part taken per
 * document: the last `valFraction` of each one's tokens (so every document is both learned and
 * measured), the held-out parts after all the training parts.
 */
export function documentTokens(
  docs: Int32Array[],
  eosId: number | undefined,
  valFraction: number,
): { tokens: Int32Array; heldOut: number } {
  const withEos = docs.map((ids) => (eosId === undefined ? ids : Int32Array.from([...ids, eosId])));
  const cuts = withEos.map((ids) => ids.length - Math.round(ids.length * valFraction));
  const tokens = new Int32Array(withEos.reduce((n, ids) => n + ids.length, 0));
  let at = 0;
  const put = (part: Int32Array) => {
    tokens.set(part, at);
    at += part.length;
  };
  withEos.forEach((ids, i) => put(ids.subarray(0, cuts[i])));
  const heldOut = tokens.length - at;
  withEos.forEach((ids, i) => put(ids.subarray(cuts[i])));
  return { tokens, heldOut };
}
