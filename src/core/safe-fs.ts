import { openSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { UserError } from './errors';

/**
 * Throws unless `path` is a regular file. Opening a FIFO or a device for reading waits for a
 * writer that may never come, so model files are checked before they are opened.
 */
export function checkRegularFile(path: string): void {
  let stat;
  try {
    stat = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT' || code === 'ENOTDIR' ? `${path}: no such file` : `${path}: cannot read (${code ?? String(e)})`);
  }
  if (stat.isDirectory()) throw new UserError(`${path} is a folder, not a file`);
  if (!stat.isFile()) throw new UserError(`${path} is not a regular file (a pipe, socket or device): refusing to read it`);
}

export function readRegularFile(path: string): string {
  checkRegularFile(path);
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
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
