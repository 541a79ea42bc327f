import { statSync } from 'node:fs';
import { Tokenizer } from '../core/tokenizer';
import { modelTokenizerFile } from '../core/model-folder';

/** The tokenizer of a model path (run, checkpoint, Hugging Face/int8/adapter folder), loaded once per file version. */
export class TokenizerCache {
  private cached?: { key: string; tokenizer: Tokenizer };

  forModel(modelPath: string): Tokenizer {
    return this.load(modelTokenizerFile(modelPath));
  }

  load(file: string): Tokenizer {
    const key = `${file}@${statSync(file).mtimeMs}`;
    if (this.cached?.key !== key) this.cached = { key, tokenizer: Tokenizer.load(file) };
    return this.cached.tokenizer;
  }
}
