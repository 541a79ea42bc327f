import { mkdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { explainWriteError } from './atomic-write';

/** A file-system-safe form of a corpus name; letters of any script (Korean included) are kept. */
export function safeName(corpusPath: string): string {
  const stem = basename(corpusPath, extname(corpusPath)).normalize('NFC');
  const safe = stem
    .replace(/[^\p{L}\p{N}._-]+/gu, '-')
    .replace(/^[-.]+|-+$/g, '')
    .slice(0, 60);
  return safe || 'corpus';
}

function timestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/**
 * Creates a new run folder: `explicitDir` when given (it must be empty or absent), else
 * `<parent>/<yyyymmdd-hhmmss>-<corpus-name>` with -2, -3… on a collision.
 */
export function createRunDir(parent: string, corpusPath: string, explicitDir?: string, now = new Date()): string {
  try {
    if (explicitDir) {
      mkdirSync(explicitDir, { recursive: true });
      return explicitDir;
    }
    mkdirSync(parent, { recursive: true });
    const base = `${timestamp(now)}-${safeName(corpusPath)}`;
    for (let i = 1; ; i++) {
      const dir = join(parent, i === 1 ? base : `${base}-${i}`);
      try {
        mkdirSync(dir);
        return dir;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
  } catch (e) {
    throw explainWriteError(e, explicitDir ?? parent);
  }
}
