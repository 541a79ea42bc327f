import { UserError } from './errors';
import { ModelConfig } from './model-config';
import { Tokenizer } from './tokenizer';

/**
 * Rows a Hugging Face embedding may have past its tokenizer's last token (Qwen2.5 pads 151,665
 * tokens to 151,936 rows); a tokenizer from another model is thousands of tokens off.
 */
export const MAX_PADDED_ROWS = 1024;

/**
 * A model folder's tokenizer.json, parsed and checked to fit the model: one token per embedding
 * row. An id past the rows would read no embedding (zeros on native, a crash on wasm); fewer
 * tokens mean a tokenizer from another model, whose ids stand for other text, unless `paddedRows`
 * allows a few rows past the last token (see llama-folder.ts: they are dropped).
 */
export function modelTokenizer(json: string, config: ModelConfig, path: string, opts: { paddedRows?: boolean } = {}): Tokenizer {
  const tokenizer = Tokenizer.fromJSON(json, path);
  const extra = config.vocabSize - tokenizer.vocabSize;
  if (extra !== 0 && !(opts.paddedRows && extra > 0 && extra <= MAX_PADDED_ROWS))
    throw new UserError(
      '{0} has {1} tokens but the model has {2} (its embedding rows): the folder mixes files from different models or runs',
      path,
      tokenizer.vocabSize,
      config.vocabSize,
    );
  return tokenizer;
}

/** A run continues with the tokenizer it started with (run.json records its sha256). */
export function checkRunTokenizer(tokenizer: Tokenizer, run: { tokenizer?: { sha256?: unknown } }, path: string): void {
  const recorded = run.tokenizer?.sha256;
  if (typeof recorded === 'string' && recorded !== tokenizer.summary().sha256)
    throw new UserError(
      "{0} is not the tokenizer this run started with (its sha256 differs from run.json's): the checkpoint mixes files from different runs",
      path,
    );
}
