import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync, existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { processAlive } from './process-alive';
import { UserError } from './errors';

const TEMP_MARK = '.tmp-';

function tempSibling(path: string): string {
  return join(dirname(path), `.${basename(path)}${TEMP_MARK}${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
}

/** True for the temporary names this module uses; readers skip them. */
export function isTempName(name: string): boolean {
  return name.startsWith('.') && name.includes(TEMP_MARK);
}

function writeAndSync(path: string, data: Buffer | string): void {
  const fd = openSync(path, 'wx');
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let at = 0;
    while (at < buf.length) at += writeSync(fd, buf, at, buf.length - at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Turns file-system failures into one clear line; anything else passes through. */
export function explainWriteError(e: unknown, target: string): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT')
    return new UserError(
      'no space left on the device while writing {0}; what was there before is intact — free some space and try again',
      target,
    );
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')
    return new UserError('cannot write to {0} (read-only or no permission); what was there before is intact', dirname(target));
  if (code === 'ENOTDIR' || code === 'EEXIST')
    return new UserError('cannot write {0}: a part of that path is a file, not a folder', target);
  return e;
}

/** Best-effort clean-up after a failure: the original error is the one worth reporting. */
function removeQuietly(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    // nothing more to do; a leftover temporary is ignored by readers and removed later
  }
}

/** Writes a file so that readers see either the old content or the new, never a mix. */
export function writeFileAtomic(path: string, data: Buffer | string): void {
  const temp = tempSibling(path);
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeAndSync(temp, data);
    renameSync(temp, path);
    syncDir(dirname(path));
  } catch (e) {
    removeQuietly(temp);
    throw explainWriteError(e, path);
  }
}

/**
 * writeFileAtomic for content made a piece at a time: `produce` appends the pieces to a temporary
 * file, renamed to `path` once it is all written; when `produce` throws, nothing is left.
 */
export function writeFileAtomicFrom(path: string, produce: (append: (data: string) => void) => void): void {
  const temp = tempSibling(path);
  try {
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(temp, 'wx');
    try {
      produce((data) => {
        const buf = Buffer.from(data, 'utf8');
        for (let at = 0; at < buf.length;) at += writeSync(fd, buf, at, buf.length - at);
      });
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
    syncDir(dirname(path));
  } catch (e) {
    removeQuietly(temp);
    throw explainWriteError(e, path);
  }
}

/**
 * Creates `finalDir` holding `files`, all at once: the folder appears complete or not at all.
 * Fails if `finalDir` exists (callers choose fresh names).
 */
export function writeDirAtomic(finalDir: string, files: Record<string, Buffer | string>): void {
  const temp = beginDirAtomic(finalDir);
  try {
    for (const [name, data] of Object.entries(files)) writeAndSync(join(temp, name), data);
  } catch (e) {
    abandonDirAtomic(temp);
    throw explainWriteError(e, finalDir);
  }
  commitDirAtomic(temp, finalDir);
}

/**
 * For a folder filled over time (files too large to hold in memory, written as they come): an
 * empty temporary folder beside `finalDir` to fill (fsyncing each file), then commitDirAtomic, or
 * abandonDirAtomic on failure. The folder appears complete or not at all.
 */
export function beginDirAtomic(finalDir: string): string {
  if (existsSync(finalDir)) throw new Error(`internal: ${finalDir} already exists`);
  const temp = tempSibling(finalDir);
  try {
    mkdirSync(dirname(finalDir), { recursive: true });
    mkdirSync(temp);
  } catch (e) {
    abandonDirAtomic(temp);
    throw explainWriteError(e, finalDir);
  }
  return temp;
}

export function commitDirAtomic(temp: string, finalDir: string): void {
  try {
    syncDir(temp);
    renameSync(temp, finalDir);
    syncDir(dirname(finalDir));
  } catch (e) {
    abandonDirAtomic(temp);
    throw explainWriteError(e, finalDir);
  }
}

export function abandonDirAtomic(temp: string): void {
  removeQuietly(temp);
}

/** Removes temporaries left in `parent` by processes that are gone (a crash mid-write). */
export function removeStaleTemps(parent: string): void {
  if (!existsSync(parent)) return;
  for (const name of readdirSync(parent)) {
    if (!isTempName(name)) continue;
    const pid = Number(/\.tmp-(\d+)-/.exec(name)?.[1]);
    if (pid === process.pid || (pid > 0 && processAlive(pid))) continue;
    rmSync(join(parent, name), { recursive: true, force: true });
  }
}
