import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from './errors';
import { parseJsonObject } from './json';
import { readRegularFile } from './safe-fs';
import { ADAPTER_BASE_FILE, ADAPTER_CONFIG_FILE, BaseRecord, sha256File } from './lora-adapter';

/**
 * Which base model a LoRA adapter applies to. Ours record it in adapter_base.json (the folder and
 * the sha256 of its weights); PEFT's own adapters only name it, in adapter_config.json's
 * base_model_name_or_path: a Hub id, or the path from_pretrained was given, relative to wherever
 * that Python process ran. So, in order: adapter_base.json; else the folder the user names
 * (`--base DIR`, the extension's pick); else base_model_name_or_path when it is a folder here (a
 * relative one from the current directory, as from_pretrained would read it); else the user is
 * asked. The adapter's shapes are then checked against the base (readAdapter).
 */
export function adapterBaseDir(dir: string, given?: string): string {
  if (existsSync(join(dir, ADAPTER_BASE_FILE))) return checkAdapterBase(dir, given).path;
  if (given !== undefined) return givenBaseFolder(given);
  const configPath = join(dir, ADAPTER_CONFIG_FILE);
  const named = parseJsonObject(readRegularFile(configPath), configPath).base_model_name_or_path;
  if (typeof named === 'string' && named !== '' && isFolder(resolve(named))) return resolve(named);
  throw new UserError(
    '{0} does not record its base model ({1} names {2}, which is not a folder here): give the base model folder it was trained on (--base DIR)',
    dir,
    ADAPTER_CONFIG_FILE,
    JSON.stringify(named ?? null),
  );
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function givenBaseFolder(given: string): string {
  if (!isFolder(given)) throw new UserError('{0}, given as the base model, is not a folder', given);
  return resolve(given);
}

/**
 * The base adapter_base.json records, after checking its weights are still the same: where the
 * record says, or in the folder given (the base moved, or the user names it again).
 */
export function checkAdapterBase(dir: string, given?: string): BaseRecord {
  const recordPath = join(dir, ADAPTER_BASE_FILE);
  const o = parseJsonObject(readRegularFile(recordPath), recordPath);
  if (
    typeof o.path !== 'string' ||
    typeof o.weights_file !== 'string' ||
    typeof o.sha256 !== 'string' ||
    !/^[0-9a-f]{64}$/.test(o.sha256) ||
    !Number.isSafeInteger(o.bytes)
  ) {
    throw new UserError('{0} is damaged (it needs path, weights_file, sha256 and bytes)', recordPath);
  }
  if (o.weights_file.includes('/') || o.weights_file.includes('\\') || o.weights_file.startsWith('.'))
    throw new UserError('{0}: weights_file must be a file name', recordPath);
  const record = { ...(o as unknown as BaseRecord), ...(given !== undefined ? { path: givenBaseFolder(given) } : {}) };
  const weights = join(record.path, record.weights_file);
  if (!existsSync(weights)) {
    if (given !== undefined)
      throw new UserError('{0}: {1} has no {2}, so it is not the base model this adapter was trained on', dir, given, record.weights_file);
    throw new UserError(
      "{0}: the adapter's base model is missing ({1} no longer exists): put the base back there, or give its new folder (--base DIR)",
      dir,
      weights,
    );
  }
  const now = sha256File(weights);
  if (now.sha256 !== record.sha256) {
    throw new UserError(
      '{0}: the base model has changed since the adapter was trained ({1}: sha256 {2}…, the adapter expects {3}…): an adapter only fits the exact weights it was trained on',
      dir,
      weights,
      now.sha256.slice(0, 12),
      record.sha256.slice(0, 12),
    );
  }
  return record;
}
