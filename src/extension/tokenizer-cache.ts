import { join } from 'node:path';
import { statSync } from 'node:fs';
import { Tokenizer } from '../core/tokenizer';
import { resolveCheckpoint } from '../core/checkpoint';

/** The tokenizer of a model path (run or checkpoint), loaded once per file version. */
export class TokenizerCache {
  private cached?: { key: string; tokenizer: Tokenizer };

  forModel(modelPath: string): Tokenizer {
    return this.load(join(resolveCheckpoint(modelPath), 'tokenizer.json'));
  }

  load(file: string): Tokenizer {
    const key = `${file}@${statSync(file).mtimeMs}`;
    if (this.cached?.key !== key) this.cached = { key, tokenizer: Tokenizer.load(file) };
    return this.cached.tokenizer;
  }
}
