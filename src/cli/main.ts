import { isUserError, oneLine } from '../core/errors';
import { cleanCommand } from './commands/clean';
import { tokenizeCommand } from './commands/tokenize';
import { encodeCommand } from './commands/encode';
import { trainCommand } from './commands/train';
import { generateCommand } from './commands/generate';
import { evalCommand } from './commands/eval';
import { benchCommand } from './commands/bench';
import { estimateCommand } from './commands/estimate';
import { nextCommand } from './commands/next';
import { attentionCommand } from './commands/attention';
import { exportTorchCommand } from './commands/export-torch';
import { COMMANDS, commandHelp, usage } from './options';
import { quantizeCommand } from './commands/quantize';
import { mergeCommand } from './commands/merge';
import { finetuneCommand } from './commands/finetune';
import { version } from '../../package.json';

const RUN: Record<keyof typeof COMMANDS, (argv: string[]) => Promise<number>> = {
  clean: cleanCommand,
  tokenize: tokenizeCommand,
  encode: encodeCommand,
  train: trainCommand,
  generate: generateCommand,
  eval: evalCommand,
  bench: benchCommand,
  estimate: estimateCommand,
  quantize: quantizeCommand,
  finetune: finetuneCommand,
  merge: mergeCommand,
  next: nextCommand,
  attention: attentionCommand,
  'export-torch': exportTorchCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    process.stdout.write(`${version}\n`);
    return 0;
  }
  const command = RUN[name];
  if (!command) {
    process.stderr.write(`corpus-lab: unknown command "${name}" (commands: ${Object.keys(RUN).join(', ')}; see corpus-lab help)\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(commandHelp(name));
    return 0;
  }
  return command(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (isUserError(e)) {
      process.stderr.write(`corpus-lab: ${oneLine(e.message)}\n`);
      process.exit(2);
    }
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`corpus-lab: internal error: ${oneLine(message)}\n`);
    if (process.env.CORPUS_LAB_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    else process.stderr.write('(run with CORPUS_LAB_DEBUG=1 for details, and please report it)\n');
    process.exit(1);
  },
);
