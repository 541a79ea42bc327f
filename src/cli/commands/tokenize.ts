import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { parseCommand } from '../args';
import type { TokenizerKind } from '../../core/tokenizer';
import { printJson, info } from '../output';
import { readCorpus } from '../../core/corpus';
import { trainTokenizer } from '../../core/tokenizer';
import { writeFileAtomic } from '../../core/atomic-write';

export async function tokenizeCommand(argv: string[]): Promise<number> {
  const { options, positionals } = parseCommand('tokenize', argv);
  const outDir = options.output as string;
  const kind = (options.kind as TokenizerKind | undefined) ?? 'char';
  const corpus = readCorpus(positionals[0]);
  const tokenizer = trainTokenizer(corpus.text, { kind, vocabSize: options.vocabSize as number | undefined });
  const tokens = tokenizer.encode(corpus.text).length;
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, 'tokenizer.json');
  writeFileAtomic(path, tokenizer.toJSON());
  const chars = [...corpus.text].length;
  const summary = { tokenizer: path, kind, vocab_size: tokenizer.vocabSize, tokens, characters: chars, chars_per_token: chars / tokens };
  if (options.json) printJson(summary);
  else
    info(
      `${kind} tokenizer, ${tokenizer.vocabSize} tokens in the vocabulary: ${tokens} tokens for ${chars} characters (${summary.chars_per_token.toFixed(2)} per token) → ${path}`,
    );
  return 0;
}
