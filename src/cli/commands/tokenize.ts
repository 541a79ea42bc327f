import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { parseCommandArgs, numberFlag, choiceFlag, stringFlag } from '../args';
import { printJson, info } from '../output';
import { readCorpus } from '../../core/corpus';
import { trainTokenizer } from '../../core/tokenizer';
import { writeFileAtomic } from '../../core/atomic-write';
import { UserError } from '../../core/errors';

const OPTIONS = { output: { type: 'string', short: 'o' }, kind: { type: 'string' }, 'vocab-size': { type: 'string' }, json: { type: 'boolean' } } as const;

export async function tokenizeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('tokenize', argv, OPTIONS, { min: 1, max: 1, names: 'FILE' });
  const outDir = stringFlag(values, 'output');
  if (!outDir) throw new UserError('tokenize: -o DIR is required (the folder to write tokenizer.json into)');
  const kind = choiceFlag(values, 'kind', ['char', 'bpe'] as const) ?? 'char';
  const corpus = readCorpus(positionals[0]);
  const tokenizer = trainTokenizer(corpus.text, { kind, vocabSize: numberFlag(values, 'vocab-size') });
  const tokens = tokenizer.encode(corpus.text).length;
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, 'tokenizer.json');
  writeFileAtomic(path, tokenizer.toJSON());
  const chars = [...corpus.text].length;
  const summary = { tokenizer: path, kind, vocab_size: tokenizer.vocabSize, tokens, characters: chars, chars_per_token: chars / tokens };
  if (values.json) printJson(summary);
  else info(`${kind} tokenizer, ${tokenizer.vocabSize} tokens in the vocabulary: ${tokens} tokens for ${chars} characters (${summary.chars_per_token.toFixed(2)} per token) → ${path}`);
  return 0;
}
