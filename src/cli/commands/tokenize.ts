import { join } from 'node:path';
import { parseCommand } from '../args';
import type { TokenizerKind } from '../../core/tokenizer';
import { printJson, info } from '../output';
import { runTokenizeJob } from '../../worker/jobs/tokenize-job';

export async function tokenizeCommand(argv: string[]): Promise<number> {
  const { options, positionals } = parseCommand('tokenize', argv);
  const r = runTokenizeJob({
    corpusPath: positionals[0],
    tokenizer: (options.kind as TokenizerKind | undefined) ?? 'char',
    vocabSize: options.vocabSize as number | undefined,
    outFile: join(options.output as string, 'tokenizer.json'),
  });
  const summary = {
    tokenizer: r.file,
    kind: r.kind,
    vocab_size: r.vocabSize,
    tokens: r.tokens,
    characters: r.chars,
    chars_per_token: r.chars / r.tokens,
  };
  if (options.json) printJson(summary);
  else
    info(
      `${r.kind} tokenizer, ${r.vocabSize} tokens in the vocabulary: ${r.tokens} tokens for ${r.chars} characters (${summary.chars_per_token.toFixed(2)} per token) → ${r.file}`,
    );
  return 0;
}
