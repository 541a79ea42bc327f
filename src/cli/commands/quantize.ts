import { parseCommand } from '../args';
import type { BackendChoice } from '../../worker/engine/backend';
import type { Int8Scheme } from '../../core/int8';
import { printJson, printResult } from '../output';
import { formatBytes } from '../../core/format-bytes';
import { runQuantizeJob } from '../../worker/jobs/quantize-job';

export async function quantizeCommand(argv: string[]): Promise<number> {
  const { options, positionals } = parseCommand('quantize', argv);
  const {
    output: out,
    scheme,
    text,
    base,
    backend,
    json,
  } = options as { output: string; scheme?: Int8Scheme; text?: string; base?: string; backend?: BackendChoice; json?: boolean };
  const r = await runQuantizeJob({
    checkpoint: positionals[0],
    out,
    scheme: scheme ?? 'channel',
    textFile: text,
    base,
    backend,
  });
  if (json) {
    printJson(r);
    return 0;
  }
  printResult(`int8 (${r.scheme}) checkpoint → ${r.out}`);
  printResult(`size      ${formatBytes(r.bytes_fp32)} fp32 → ${formatBytes(r.bytes_int8)} int8 (${r.size_ratio.toFixed(3)}×)`);
  printResult(
    `loss      ${r.loss_fp32.toFixed(4)} → ${r.loss_int8.toFixed(4)} nats/token (${r.delta_bits_per_char >= 0 ? '+' : ''}${r.delta_bits_per_char.toFixed(4)} bits/char) over ${r.tokens} tokens of ${r.eval_text}`,
  );
  printResult(`top-1     ${(100 * r.top1_agreement).toFixed(2)}% of next-token choices agree · mean KL ${r.kl.toExponential(2)} nats`);
  printResult(
    `speed     load ${r.load_ms_fp32.toFixed(0)} → ${r.load_ms_int8.toFixed(0)} ms, forward ${r.forward_ms_fp32.toFixed(0)} → ${r.forward_ms_int8.toFixed(0)} ms (int8 is dequantized at load: same speed, smaller file)`,
  );
  return 0;
}
