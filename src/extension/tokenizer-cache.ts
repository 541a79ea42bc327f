import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { Tokenizer } from '../core/tokenizer';
import { resolveCheckpointAsync } from '../core/checkpoint';
import { readRegularFileAsync } from '../core/safe-fs';

/** The tokenizer of a model path (run or checkpoint), loaded once per file version, without blocking the host thread. */
export class TokenizerCache {
  private cached?: { key: string; tokenizer: Tokenizer };

  async forModel(modelPath: string): Promise<Tokenizer> {
    return this.load(join(await resolveCheckpointAsync(modelPath), 'tokenizer.json'));
  }

  async load(file: string): Promise<Tokenizer> {
    const key = `${file}@${(await stat(file)).mtimeMs}`;
    if (this.cached?.key !== key) this.cached = { key, tokenizer: Tokenizer.fromJSON(await readRegularFileAsync(file), file) };
    return this.cached.tokenizer;
  }
}
