import { openSync, readFileSync, statSync } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { UserError } from './errors';

/**
 * Throws unless `path` is a regular file. Opening a FIFO or a device for reading waits for a
 * writer that may never come, so model files are checked before they are opened.
 */
export function checkRegularFile(path: string): void {
  let s;
  try {
    s = statSync(path);
  } catch (e) {
    throw statError(path, e);
  }
  checkStat(path, s);
}

function statError(path: string, e: unknown): UserError {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR'
    ? new UserError('{0}: no such file', path)
    : new UserError('{0}: cannot read ({1})', path, code ?? String(e));
}

function checkStat(path: string, s: { isDirectory(): boolean; isFile(): boolean }): void {
  if (s.isDirectory()) throw new UserError('{0} is a folder, not a file', path);
  if (!s.isFile()) throw new UserError('{0} is not a regular file (a pipe, socket or device): refusing to read it', path);
}

const readError = (path: string, e: unknown) =>
  new UserError('{0}: cannot read ({1})', path, (e as NodeJS.ErrnoException).code ?? String(e));

export function readRegularFile(path: string): string {
  checkRegularFile(path);
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw readError(path, e);
  }
}

/** readRegularFile without blocking the thread (the extension host reads this way). */
export async function readRegularFileAsync(path: string): Promise<string> {
  checkStat(path, await stat(path).catch((e: unknown) => Promise.reject(statError(path, e))));
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
