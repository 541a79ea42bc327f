import { once } from 'node:events';
import { parseCommand } from '../args';
import { readCorpus } from '../../core/corpus';
import { Tokenizer } from '../../core/tokenizer';

const IDS_PER_WRITE = 1 << 16;

export async function encodeCommand(argv: string[]): Promise<number> {
  const { options, positionals } = parseCommand('encode', argv);
  const tokenizer = Tokenizer.load(positionals[0]);
  const ids = tokenizer.encodeAll(readCorpus(positionals[1]).text);
  // Written a slice at a time: the whole list as one string would be several times the corpus.
  const separator = options.json ? ',' : ' ';
  await write(options.json ? '{"ids":[' : '');
  for (let i = 0; i < ids.length; i += IDS_PER_WRITE)
    await write((i > 0 ? separator : '') + ids.subarray(i, i + IDS_PER_WRITE).join(separator));
  await write(options.json ? ']}\n' : '\n');
  return 0;
}

async function write(text: string): Promise<void> {
  if (!process.stdout.write(text)) await once(process.stdout, 'drain');
}
