import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { UserError } from './errors';
import { writeFileAtomic, explainWriteError } from './atomic-write';

/** A file-system-safe form of a corpus name; letters of any script (Korean included) are kept. */
export function safeName(corpusPath: string): string {
  const stem = basename(corpusPath, extname(corpusPath)).normalize('NFC');
  const safe = stem.replace(/[^\p{L}\p{N}._-]+/gu, '-').replace(/^[-.]+|-+$/g, '').slice(0, 60);
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

export function writeRunJson(runDir: string, run: Record<string, unknown>): void {
  writeFileAtomic(join(runDir, 'run.json'), JSON.stringify(run, null, 2) + '\n');
}

export function readRunJson(runDir: string): Record<string, unknown> {
  const path = join(runDir, 'run.json');
  if (!existsSync(path)) throw new UserError(`${runDir} is not a Corpus Lab run folder (no run.json)`);
  try {
    const v = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v;
  } catch (e) {
    throw new UserError(`${path} is damaged (${(e as Error).message})`);
  }
}

/** Appends one JSON line; a single write, so a crash leaves at most one partial last line. */
export function appendMetrics(runDir: string, record: object): void {
  appendFileSync(join(runDir, 'metrics.jsonl'), JSON.stringify(record) + '\n');
}

/** The metrics of a run; a partial or damaged line (from a crash) is skipped. */
export function readMetrics(runDir: string): Record<string, unknown>[] {
  const path = join(runDir, 'metrics.jsonl');
  if (!existsSync(path)) return [];
  const out: Record<string, unknown>[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // a line cut short by a crash
    }
  }
  return out;
}

/** Drops metrics logged after `step` (a resumed run logs those steps again). */
export function truncateMetrics(runDir: string, step: number): void {
  const kept = readMetrics(runDir).filter((r) => typeof r.step !== 'number' || r.step <= step);
  writeFileAtomic(join(runDir, 'metrics.jsonl'), kept.map((r) => JSON.stringify(r) + '\n').join(''));
}
