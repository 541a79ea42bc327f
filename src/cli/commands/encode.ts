import { parseCommand } from '../args';
import { readCorpus } from '../../core/corpus';
import { Tokenizer } from '../../core/tokenizer';

const IDS_PER_WRITE = 1 << 16;

export async function encodeCommand(argv: string[]): Promise<number> {
  const { options, positionals } = parseCommand('encode', argv);
  const tokenizer = Tokenizer.load(positionals[0]);
  // Written a slice at a time: the whole list as one string would be several times the corpus.
  const separator = options.json ? ',' : ' ';
  // A reader that stops early (`encode … | head`) closes the pipe: stop quietly, as Unix tools do.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(0);
  });
  const slices = tokenizer.encodeSlices(readCorpus(positionals[1]).text);
  // The first slice is encoded before anything is written, so a bad file or pattern prints nothing.
  let slice = slices.next();
  await write(options.json ? '{"ids":[' : '');
  for (let first = true; !slice.done; slice = slices.next()) {
    const ids = slice.value;
    for (let i = 0; i < ids.length; i += IDS_PER_WRITE, first = false)
      await write((first ? '' : separator) + ids.subarray(i, i + IDS_PER_WRITE).join(separator));
  }
  await write(options.json ? ']}\n' : '\n');
  return 0;
}

/** Resolves once the text is handed to the OS, so the process can exit right after the last one. */
function write(text: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(text, (e) => (e ? reject(e) : resolve())));
}
