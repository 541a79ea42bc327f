import { existsSync, realpathSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { UserError, message } from './errors';
import { isObject, parseJsonObject } from './json';
import { isInside, readRegularFile } from './safe-fs';
import { ReadOptions, TensorDestination, TensorHeader, readSafetensors, readSafetensorsHeader } from './safetensors';
import { NamedTensors } from './tensor';

export const HF_WEIGHTS_FILE = 'model.safetensors';
export const HF_INDEX_FILE = 'model.safetensors.index.json';

/** The file that stands for a folder's weights: model.safetensors, or the index of its shards. */
export function hfWeightsFile(dir: string): string {
  return !existsSync(join(dir, HF_WEIGHTS_FILE)) && existsSync(join(dir, HF_INDEX_FILE))
    ? join(dir, HF_INDEX_FILE)
    : join(dir, HF_WEIGHTS_FILE);
}

/** Every file a folder's weights are read from: model.safetensors, or the index and its shards. */
export function hfWeightFiles(dir: string): string[] {
  const file = hfWeightsFile(dir);
  return file.endsWith(HF_INDEX_FILE) ? [file, ...readShardIndex(dir).keys()] : [file];
}

/** Each stored tensor's header (dtype, shape), from model.safetensors or every shard. */
export function hfWeightHeaders(dir: string): Map<string, TensorHeader> {
  const files = hfWeightFiles(dir);
  const shards = files[0].endsWith(HF_INDEX_FILE) ? files.slice(1) : files;
  return new Map(shards.flatMap((f) => [...readSafetensorsHeader(f)]));
}

/**
 * The shards an index maps the tensors to (untrusted): every name mapped to a file name inside the
 * folder (no absolute path, no `..`, no link out of it).
 */
function readShardIndex(dir: string): Map<string, Set<string>> {
  const path = join(dir, HF_INDEX_FILE);
  const map = parseJsonObject(readRegularFile(path), path).weight_map;
  if (!isObject(map)) throw new UserError('{0}: weight_map must be an object of tensor names to shard files', path);
  const shards = new Map<string, Set<string>>();
  for (const [name, file] of Object.entries(map)) {
    if (typeof file !== 'string' || file === '')
      throw new UserError('{0}: weight_map maps {1} to {2}, not a file name', path, name, JSON.stringify(file));
    const shard = join(dir, file);
    if (isAbsolute(file) || !isInside(shard, dir) || resolve(shard) === resolve(dir))
      throw new UserError('{0}: weight_map maps {1} to {2}, outside the model folder', path, name, JSON.stringify(file));
    if (existsSync(shard) && !isInside(realpathSync(shard), realpathSync(dir)))
      throw new UserError('{0}: the shard {1} links to a file outside the model folder', path, JSON.stringify(file));
    shards.set(shard, (shards.get(shard) ?? new Set()).add(name));
  }
  if (shards.size === 0) throw new UserError('{0}: weight_map names no tensors', path);
  return shards;
}

/**
 * A Hugging Face folder's weights from model.safetensors or from the shards its
 * model.safetensors.index.json names. Every header is checked (each shard holds exactly the tensors
 * the index maps to it) and `check` is given them all before any tensor data is read; then
 * `destination`, when given, says where tensors go instead of host arrays (they are then not
 * returned: safetensors.ts TensorDestination).
 */
export function readHfWeights(
  dir: string,
  opts: {
    dtypes: NonNullable<ReadOptions['dtypes']>;
    check: (header: Map<string, TensorHeader>, source: string) => void;
    destination?: (header: Map<string, TensorHeader>) => TensorDestination;
  },
): NamedTensors {
  let into: TensorDestination | undefined;
  const checked = (header: Map<string, TensorHeader>, source: string) => {
    opts.check(header, source);
    into = opts.destination?.(header);
  };
  const read = (path: string, check?: (header: Map<string, TensorHeader>) => void) =>
    readSafetensors(path, { dtypes: opts.dtypes, check, into: (name, dtype, shape) => into?.(name, dtype, shape) }).tensors;
  if (existsSync(join(dir, HF_WEIGHTS_FILE))) {
    const path = join(dir, HF_WEIGHTS_FILE);
    return read(path, (header) => checked(header, path));
  }
  const index = join(dir, HF_INDEX_FILE);
  const shards = readShardIndex(dir);
  const all = new Map<string, TensorHeader>();
  for (const [shard, names] of shards) {
    const header = readSafetensorsHeader(shard);
    for (const [name, { dtype }] of header) {
      if (!names.has(name)) throw new UserError('{0} holds {1}, which {2} does not map to it', basename(shard), name, HF_INDEX_FILE);
      if (!opts.dtypes.includes(dtype as never))
        throw new UserError(
          '{0}: {1}',
          basename(shard),
          message('tensor "{0}" is {1}; Corpus Lab reads {2} tensors only', name, dtype, opts.dtypes.join(', ')),
        );
    }
    for (const name of names)
      if (!header.has(name)) throw new UserError('{0} maps {1} to {2}, which does not hold it', index, name, basename(shard));
    for (const [name, h] of header) all.set(name, h);
  }
  checked(all, index);
  const weights: NamedTensors = new Map();
  for (const shard of shards.keys()) {
    for (const [name, t] of read(shard)) weights.set(name, t);
  }
  return weights;
}
