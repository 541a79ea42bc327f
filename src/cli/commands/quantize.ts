import { parseCommandArgs, choiceFlag, stringFlag } from '../args';
import { printJson, info } from '../output';
import { UserError } from '../../core/errors';
import { formatBytes } from '../../core/format-bytes';
import { INT8_SCHEMES } from '../../core/int8';
import { runQuantizeJob } from '../../worker/jobs/quantize-job';

const OPTIONS = {
  output: { type: 'string', short: 'o' },
  scheme: { type: 'string' },
  text: { type: 'string' },
  backend: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export async function quantizeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('quantize', argv, OPTIONS, { min: 1, max: 1, names: 'CHECKPOINT_OR_RUN' });
  const out = stringFlag(values, 'output');
  if (!out) throw new UserError('quantize: -o OUT_DIR is required (a new folder for the int8 checkpoint)');
  const r = await runQuantizeJob({
    checkpoint: positionals[0],
    out,
    scheme: choiceFlag(values, 'scheme', INT8_SCHEMES) ?? 'channel',
    textFile: stringFlag(values, 'text'),
    backend: choiceFlag(values, 'backend', ['auto', 'tensorflow', 'wasm', 'cpu'] as const),
  });
  if (values.json) {
    printJson(r);
    return 0;
  }
  info(`int8 (${r.scheme}) checkpoint → ${r.out}`);
  info(`size      ${formatBytes(r.bytes_fp32)} fp32 → ${formatBytes(r.bytes_int8)} int8 (${r.size_ratio.toFixed(3)}×)`);
  info(`loss      ${r.loss_fp32.toFixed(4)} → ${r.loss_int8.toFixed(4)} nats/token (${r.delta_bits_per_char >= 0 ? '+' : ''}${r.delta_bits_per_char.toFixed(4)} bits/char) over ${r.tokens} tokens of ${r.eval_text}`);
  info(`top-1     ${(100 * r.top1_agreement).toFixed(2)}% of next-token choices agree · mean KL ${r.kl.toExponential(2)} nats`);
  info(`speed     load ${r.load_ms_fp32.toFixed(0)} → ${r.load_ms_int8.toFixed(0)} ms, forward ${r.forward_ms_fp32.toFixed(0)} → ${r.forward_ms_int8.toFixed(0)} ms (int8 is dequantized at load: same speed, smaller file)`);
  return 0;
}
