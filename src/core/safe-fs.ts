import { openSync, readFileSync, statSync } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { UserError } from './errors';
import { formatBytes } from './format-bytes';

/**
 * Largest JSON file read whole (config, tokenizer, run and trainer state). The biggest real
 * tokenizer.json files are tens of MB (Gemma's ~33 MB, Llama 3's ~9 MB).
 */
export const MAX_JSON_FILE_BYTES = 64 * 1024 * 1024;

/**
 * Throws unless `path` is a regular file. Opening a FIFO or a device for reading waits for a
 * writer that may never come, so model files are checked before they are opened.
 */
export function checkRegularFile(path: string, maxBytes = Infinity): void {
  let s;
  try {
    s = statSync(path);
  } catch (e) {
    throw statError(path, e);
  }
  checkStat(path, s, maxBytes);
}

function statError(path: string, e: unknown): UserError {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR'
    ? new UserError('{0}: no such file', path)
    : new UserError('{0}: cannot read ({1})', path, code ?? String(e));
}

function checkStat(path: string, s: { isDirectory(): boolean; isFile(): boolean; size: number }, maxBytes = Infinity): void {
  if (s.isDirectory()) throw new UserError('{0} is a folder, not a file', path);
  if (!s.isFile()) throw new UserError('{0} is not a regular file (a pipe, socket or device): refusing to read it', path);
  if (s.size > maxBytes)
    throw new UserError(
      '{0} is {1}, over the {2} limit for this file: it is damaged or not the file it should be',
      path,
      formatBytes(s.size),
      formatBytes(maxBytes),
    );
}

const readError = (path: string, e: unknown) =>
  new UserError('{0}: cannot read ({1})', path, (e as NodeJS.ErrnoException).code ?? String(e));

/** A regular file of at most `maxBytes`, read whole as UTF-8. */
export function readRegularFile(path: string, maxBytes = MAX_JSON_FILE_BYTES): string {
  checkRegularFile(path, maxBytes);
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw readError(path, e);
  }
}

/** readRegularFile without blocking the thread (the extension host reads this way). */
export async function readRegularFileAsync(path: string, maxBytes = MAX_JSON_FILE_BYTES): Promise<string> {
  checkStat(path, await stat(path).catch((e: unknown) => Promise.reject(statError(path, e))), maxBytes);
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw readError(path, e);
  }
}

export function openRegularFile(path: string): number {
  checkRegularFile(path);
  return openSync(path, 'r');
}

/** True when `child` is `parent` or lies inside it (a sibling that shares a prefix does not). */
export function isInside(child: string, parent: string): boolean {
  const rel = relative(resolve(parent), resolve(child));
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** Whether `path` exists, without blocking the thread (the extension host's check). */
export function pathExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
