import { parseCommand } from '../args';
import type { BackendChoice } from '../../worker/engine/backend';
import { printJson, printResult } from '../output';
import { runEvalJob } from '../../worker/jobs/eval-job';
import { gzipText } from '../progress';

export async function evalCommand(argv: string[]): Promise<number> {
  const { options, positionals } = parseCommand('eval', argv);
  const result = await runEvalJob(
    positionals[0],
    positionals[1],
    options.backend as BackendChoice | undefined,
    options.base as string | undefined,
  );
  const { loss, tokens, chars, bytes, bitsPerChar, bitsPerByte, baselines: b } = result;
  if (options.json) printJson({ loss, tokens, bits_per_char: bitsPerChar, bits_per_byte: bitsPerByte, chars, bytes, baselines: b });
  else {
    printResult(
      `loss ${loss.toFixed(4)} nats/token (perplexity ${Math.exp(loss).toFixed(2)}) over ${tokens} tokens · ${result.checkpoint}`,
    );
    printResult(
      `${bitsPerChar.toFixed(4)} bits per character (${chars} code points) · ${bitsPerByte.toFixed(4)} bits per UTF-8 byte (${bytes} bytes)`,
    );
    printResult(
      `to beat: ${b.uniform_loss.toFixed(4)} nats/token guessing evenly (ln of the ${Math.round(Math.exp(b.uniform_loss))}-token vocabulary) · ` +
        `${b.unigram_bits_per_char.toFixed(4)} bits/char knowing only this text's character frequencies · ${gzipText(b, bytes)}`,
    );
  }
  return 0;
}
