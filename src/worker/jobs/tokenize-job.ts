import { readCorpus } from '../../core/corpus';
import { TokenizerKind, trainTokenizer } from '../../core/tokenizer';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../../core/atomic-write';
import { codePointCount } from '../../core/code-points';
import { checkOutputPath } from '../../core/output-path';

/** Tokenize a file: train a tokenizer on it and save it as tokenizer.json. */
export interface TokenizeRequest {
  corpusPath: string;
  tokenizer: TokenizerKind;
  /** BPE only; the default follows the corpus's size. */
  vocabSize?: number;
  /** Where tokenizer.json goes (its folder is made). */
  outFile: string;
}

export interface TokenizeResult {
  file: string;
  kind: TokenizerKind;
  vocabSize: number;
  /** The file's length in tokens of the new tokenizer, and in characters (code points). */
  tokens: number;
  chars: number;
}

// Training a BPE on a large file takes seconds: the extension runs this in a worker, the CLI in-process.
export function runTokenizeJob(r: TokenizeRequest): TokenizeResult {
  checkOutputPath(dirname(r.outFile), 'folder');
  const corpus = readCorpus(r.corpusPath);
  const tokenizer = trainTokenizer(corpus.text, { kind: r.tokenizer, vocabSize: r.vocabSize });
  writeFileAtomic(r.outFile, tokenizer.toJSON());
  return {
    file: r.outFile,
    kind: r.tokenizer,
    vocabSize: tokenizer.vocabSize,
    tokens: tokenizer.countTokens(corpus.text),
    chars: codePointCount(corpus.text),
  };
}
