import { parseCommand } from '../args';
import { printJson, info } from '../output';
import { formatBytes } from '../../core/format-bytes';
import { Tokenizer } from '../../core/tokenizer';
import { mergeAdapter } from '../../core/export-folder';

export async function mergeCommand(argv: string[]): Promise<number> {
  const { options, positionals } = parseCommand('merge', argv);
  const out = options.output as string;
  const r = mergeAdapter(positionals[0], out, (json) => Tokenizer.fromJSON(json).kind, options.base as string | undefined);
  if (options.json) printJson(r);
  else
    info(
      `merged ${r.modules} LoRA layer(s) (r ${r.r}, alpha ${r.alpha}, scale ${r.scale}) of ${r.adapter} onto ${r.base} → ${r.out} (${formatBytes(r.bytes)}, a plain ${r.architecture} folder)`,
    );
  return 0;
}
