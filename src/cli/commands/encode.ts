import { parseCommandArgs } from '../args';
import { printJson } from '../output';
import { readCorpus } from '../../core/corpus';
import { Tokenizer } from '../../core/tokenizer';

const OPTIONS = { json: { type: 'boolean' } } as const;

export async function encodeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('encode', argv, OPTIONS, { min: 2, max: 2, names: 'TOKENIZER_JSON and FILE' });
  const tokenizer = Tokenizer.load(positionals[0]);
  const ids = tokenizer.encode(readCorpus(positionals[1]).text);
  if (values.json) printJson({ ids });
  else process.stdout.write(ids.join(' ') + '\n');
  return 0;
}
