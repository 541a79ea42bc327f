import { parseCommand } from '../args';
import { printJson } from '../output';
import { readCorpus } from '../../core/corpus';
import { Tokenizer } from '../../core/tokenizer';

export async function encodeCommand(argv: string[]): Promise<number> {
  const { options, positionals } = parseCommand('encode', argv);
  const tokenizer = Tokenizer.load(positionals[0]);
  const ids = tokenizer.encode(readCorpus(positionals[1]).text);
  if (options.json) printJson({ ids });
  else process.stdout.write(ids.join(' ') + '\n');
  return 0;
}
