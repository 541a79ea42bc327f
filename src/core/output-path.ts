import { existsSync, mkdtempSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from './errors';
import { RUN_EXPORTS } from './runs';

/**
 * What a command writes at its output path:
 * - `file`: a file, replaced if it exists (clean)
 * - `folder`: a folder, made if absent; the files written into it are replaced (tokenize)
 * - `new-folder`: a folder that must not exist yet (quantize, merge; in a run, its exports/ folder)
 * - `empty-folder`: a new or empty folder (train, finetune, export-torch)
 */
export type OutputKind = 'file' | 'folder' | 'new-folder' | 'empty-folder';

/**
 * The one check of where a command is about to write, before anything is written: the path must
 * fit `kind`, the folder that receives it must be writable, and must not be a run or a model
 * folder, whose files a write there would replace or mix with. Returns the absolute path.
 */
export function checkOutputPath(out: string, kind: OutputKind): string {
  const path = resolve(out);
  const stat = statOrUndefined(path);
  if (stat) refuseExisting(out, path, stat.isDirectory(), kind);
  const receiving = stat?.isDirectory() ? path : nearestExistingFolder(out, dirname(path));
  if (!(kind === 'new-folder' && isRunExport(path))) refuseRecordFolder(out, receiving);
  checkWritable(receiving);
  return path;
}

function statOrUndefined(path: string) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function refuseExisting(out: string, path: string, isFolder: boolean, kind: OutputKind): void {
  if (kind === 'new-folder') throw new UserError('{0} already exists: choose a new folder for the output', out);
  if (kind === 'file') {
    if (isFolder) throw new UserError('{0} is a folder, not a file', out);
    return;
  }
  if (!isFolder) throw new UserError('{0} is a file, not a folder', out);
  if (kind === 'empty-folder' && readdirSync(path).length > 0) throw new UserError('{0} is not empty: choose a new or empty folder', out);
}

/** The folder the output will be made in: `dir` or its nearest ancestor that exists. */
function nearestExistingFolder(out: string, dir: string): string {
  for (let at = dir; ; at = dirname(at)) {
    const stat = statOrUndefined(at);
    if (stat?.isDirectory()) return at;
    if (stat) throw new UserError('{0}: {1} is a file, not a folder', out, at);
    if (dirname(at) === at) return at;
  }
}

/** A model made from a run's checkpoint (merged, int8) goes in the run's exports/ folder, where the Runs view lists it. */
function isRunExport(path: string): boolean {
  const exportsDir = dirname(path);
  return basename(exportsDir) === RUN_EXPORTS && existsSync(join(dirname(exportsDir), 'run.json'));
}

/** A run folder (and its checkpoints/) or a model folder belongs to what wrote it. */
function refuseRecordFolder(out: string, dir: string): void {
  const has = (name: string, at = dir) => existsSync(join(at, name));
  if (has('run.json') || (basename(dir) === 'checkpoints' && has('run.json', dirname(dir))))
    throw new UserError(
      'cannot write {0}: {1} is a run folder, whose files this would replace or mix with; choose a folder outside it',
      out,
      dir,
    );
  if (has('config.json') || has('adapter_config.json'))
    throw new UserError(
      'cannot write {0}: {1} holds a model, whose files this would replace or mix with; choose a folder outside it',
      out,
      dir,
    );
}

/** Tries it: permissions, a read-only mount, or a folder like /proc that takes no new entries. */
function checkWritable(dir: string): void {
  let probe: string;
  try {
    // A temporary name (core/atomic-write.ts): readers skip it and a leftover is removed later.
    probe = mkdtempSync(join(dir, `.write-check.tmp-${process.pid}-`));
  } catch (e) {
    throw new UserError('cannot write to {0} ({1}): choose a folder you can write to', dir, (e as NodeJS.ErrnoException).code ?? String(e));
  }
  rmdirSync(probe);
}
