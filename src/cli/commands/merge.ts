import { parseCommandArgs, stringFlag } from '../args';
import { printJson, info } from '../output';
import { UserError } from '../../core/errors';
import { formatBytes } from '../../core/format-bytes';
import { Tokenizer } from '../../core/tokenizer';
import { mergeAdapter } from '../../core/export-folder';

const OPTIONS = { output: { type: 'string', short: 'o' }, json: { type: 'boolean' } } as const;

export async function mergeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('merge', argv, OPTIONS, { min: 1, max: 1, names: 'ADAPTER_CHECKPOINT_OR_RUN' });
  const out = stringFlag(values, 'output');
  if (!out) throw new UserError('merge: -o OUT_DIR is required (a new folder for the merged model)');
  const r = mergeAdapter(positionals[0], out, (json) => Tokenizer.fromJSON(json).kind);
  if (values.json) printJson(r);
  else info(`merged ${r.modules} LoRA layer(s) (r ${r.r}, alpha ${r.alpha}, scale ${r.scale}) of ${r.adapter} onto ${r.base} → ${r.out} (${formatBytes(r.bytes)}, a plain GPT-2 folder)`);
  return 0;
}
