import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { UserError } from '../core/errors';
import { parseJsonObject } from '../core/json';
import { ADAPTER_BASE_FILE } from '../core/lora-adapter';
import { Tokenizer } from '../core/tokenizer';
import { resolveCheckpointAsync } from '../core/checkpoint';
import { pathExists, readRegularFileAsync } from '../core/safe-fs';

/**
 * The tokenizer of a model path (run, checkpoint, Hugging Face, int8 or adapter folder), loaded
 * once per file version, without blocking the host thread.
 */
export class TokenizerCache {
  private cached?: { key: string; tokenizer: Tokenizer };

  async forModel(modelPath: string): Promise<Tokenizer> {
    const dir = await resolveCheckpointAsync(modelPath);
    const own = join(dir, 'tokenizer.json');
    if (await pathExists(own)) return this.load(own);
    // An adapter without its own copy uses its base's (the base is checked when the model loads).
    const base = parseJsonObject(await readRegularFileAsync(join(dir, ADAPTER_BASE_FILE)), join(dir, ADAPTER_BASE_FILE)).path;
    if (typeof base !== 'string') throw new UserError('{0}: {1} names no base folder', dir, ADAPTER_BASE_FILE);
    return this.load(join(base, 'tokenizer.json'));
  }

  async load(file: string): Promise<Tokenizer> {
    const key = `${file}@${(await stat(file)).mtimeMs}`;
    if (this.cached?.key !== key) this.cached = { key, tokenizer: Tokenizer.fromJSON(await readRegularFileAsync(file), file) };
    return this.cached.tokenizer;
  }
}
