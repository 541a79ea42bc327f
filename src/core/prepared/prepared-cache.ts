import { createHash } from 'node:crypto';
import { Stats, closeSync, existsSync, openSync, readFileSync, readSync, statSync, statfsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { abandonDirAtomic, beginDirAtomic, commitDirAtomic, explainWriteError, writeFileAtomic } from '../atomic-write';
import { UserError } from '../errors';
import { formatBytes } from '../format-bytes';
import { isObject } from '../json';
import { PreparationCancelled } from './source-text';
import { Steps } from './steps';

/**
 * Where prepared corpora live: one folder per (text, tokenizer) hash in a cache shared by every run,
 * so runs and resumes on the same text reuse one copy of its ids (a run folder would copy them per
 * run). CORPUS_LAB_CACHE moves it (e.g. to a larger disk).
 */
export function preparedCacheRoot(): string {
  const base = process.env.CORPUS_LAB_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'corpus-lab');
  return join(base, 'prepared');
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The folder of a text prepared with a tokenizer. */
export function preparedDir(root: string, sourceSha256: string, tokenizerSha256: string): string {
  return join(root, sha256Hex(`${sourceSha256}\0${tokenizerSha256}`).slice(0, 32));
}

// A file's sha256 is recorded with its size, modification time and inode, so an unchanged file
// is not read again to learn it (as make and git's index trust them); a folder's with the hash of
// its documents' names and those stamps (`listing`).
type Fingerprint = { path: string; size: number; mtime_ms: number; ino: number; listing?: string; sha256: string };

export type SourceStamp = Pick<Stats, 'size' | 'mtimeMs' | 'ino'> & { listing?: string };

function fingerprintPath(root: string, path: string): string {
  return join(root, 'sources', `${sha256Hex(resolve(path)).slice(0, 32)}.json`);
}

/** The sha256 recorded for this file when its size, time and inode are still those recorded. */
export function knownSha256(root: string, path: string, stat: SourceStamp): string | undefined {
  try {
    const f: unknown = JSON.parse(readFileSync(fingerprintPath(root, path), 'utf8'));
    if (!isObject(f) || typeof f.sha256 !== 'string') return undefined;
    const same =
      f.path === resolve(path) && f.size === stat.size && f.mtime_ms === stat.mtimeMs && f.ino === stat.ino && f.listing === stat.listing;
    return same ? f.sha256 : undefined;
  } catch {
    return undefined;
  }
}

export function recordSha256(root: string, path: string, stat: SourceStamp, sha256: string): void {
  const f: Fingerprint = { path: resolve(path), size: stat.size, mtime_ms: stat.mtimeMs, ino: stat.ino, listing: stat.listing, sha256 };
  writeFileAtomic(fingerprintPath(root, path), JSON.stringify(f) + '\n');
}

/** Where a tokenizer trained on a text (kind, vocabulary size) is kept, so a second run need not train it again. */
export function trainedTokenizerPath(root: string, sourceSha256: string, kind: string, vocabSize: number | undefined): string {
  return join(root, 'tokenizers', `${sourceSha256}-${kind}-${vocabSize ?? 'default'}.json`);
}

/** Refuses a preparation that could fill the disk: the ids take at most `need` bytes (one token per byte of text). */
export function checkDiskSpace(root: string, need: number, source: string): void {
  const fs = statfsSync(root);
  const free = fs.bavail * fs.bsize;
  if (free < need) {
    throw new UserError(
      '{0} needs up to {1} of disk space for its token ids and {2} has {3} free: free some space or set CORPUS_LAB_CACHE to a folder on a larger disk',
      source,
      formatBytes(need),
      root,
      formatBytes(free),
    );
  }
}

/**
 * Writes a prepared folder whole or not at all: `fill` writes its files into a temporary folder and
 * gives the meta, written last (a folder without it is never taken for prepared data). When another
 * run prepared the same folder meanwhile, its folder is as good.
 */
export function* writePreparedFolder(dir: string, metaFile: string, fill: (temp: string) => Steps<object>): Steps<void> {
  const temp = beginDirAtomic(dir);
  try {
    const meta = yield* fill(temp);
    writeFileAtomic(join(temp, metaFile), JSON.stringify(meta, null, 2) + '\n');
  } catch (e) {
    abandonDirAtomic(temp);
    throw explainWriteError(e, dir);
  }
  try {
    commitDirAtomic(temp, dir);
  } catch (e) {
    if (!existsSync(join(dir, metaFile))) throw e;
  }
}

/** What reading a prepared file found: its size and sha256 (bytes past `expected` unread), or why it could not be opened. */
export type FileReading = { bytes: number; sha256: string } | { unreadable: string };

/**
 * Reads a prepared file a chunk at a time between steps, hashing it, to tell whether it is whole;
 * `onBytes` hears the bytes read so far, and `shouldStop` cancels between chunks.
 */
export function* readPreparedFile(
  path: string,
  expected: number,
  onBytes: (read: number) => void,
  shouldStop?: () => boolean,
): Steps<FileReading> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    return { unreadable: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
  }
  try {
    const buf = Buffer.allocUnsafeSlow(VERIFY_CHUNK_BYTES);
    const hash = createHash('sha256');
    let at = 0;
    for (;;) {
      if (shouldStop?.()) throw new PreparationCancelled();
      const got = readSync(fd, buf, 0, buf.length, at);
      if (got === 0) break;
      hash.update(buf.subarray(0, got));
      at += got;
      if (at > expected) break;
      onBytes(at);
      yield;
    }
    return { bytes: at, sha256: hash.digest('hex') };
  } finally {
    closeSync(fd);
  }
}

const VERIFY_CHUNK_BYTES = 4 << 20;

/**
 * Records that `files` of a prepared folder were just written or read whole: until one of them
 * changes (size, inode, times), opening the folder again need not read them again.
 */
export function recordVerified(dir: string, files: readonly string[]): void {
  writeFileAtomic(join(dir, VERIFIED_FILE), JSON.stringify(identitiesOf(dir, files)) + '\n');
}

export function unchangedSinceVerified(dir: string, files: readonly string[]): boolean {
  try {
    const recorded: unknown = JSON.parse(readFileSync(join(dir, VERIFIED_FILE), 'utf8'));
    return JSON.stringify(recorded) === JSON.stringify(identitiesOf(dir, files));
  } catch {
    return false;
  }
}

const VERIFIED_FILE = 'verified.json';

function identitiesOf(dir: string, files: readonly string[]): { size: string; ino: string; mtime_ns: string; ctime_ns: string }[] {
  return files.map((file) => {
    const s = statSync(join(dir, file), { bigint: true });
    return { size: String(s.size), ino: String(s.ino), mtime_ns: String(s.mtimeNs), ctime_ns: String(s.ctimeNs) };
  });
}
