import { tf } from '../engine/backend';
import { Gpt } from './gpt';
import { coveringWindows, fillWindows } from '../../core/batches';
import { TokenReader } from '../../core/prepared/token-file';
import { crossEntropy } from './ops';
import { ExampleRows, exampleBatch } from '../../core/example-batches';
import { IGNORED } from '../../core/sft-examples';

/** Mean next-token cross-entropy over the windows starting at `starts` (no dropout). */
export async function meanLoss(
  model: Gpt,
  tokens: Int32Array | TokenReader,
  starts: number[],
  context: number,
  batch: number,
): Promise<number> {
  let total = 0;
  let count = 0;
  for (let i = 0; i < starts.length; i += batch) {
    const group = starts.slice(i, i + batch);
    const inputs = new Int32Array(group.length * context);
    const targets = new Int32Array(group.length * context);
    fillWindows(tokens, group, context, inputs, targets);
    const lossT = tf.tidy(() =>
      model.loss(tf.tensor2d(inputs, [group.length, context], 'int32'), tf.tensor2d(targets, [group.length, context], 'int32')),
    );
    total += (await lossT.data())[0] * group.length;
    count += group.length;
    lossT.dispose();
  }
  return total / count;
}

/** Mean next-token cross-entropy over every token of `tokens` from the second on (coveringWindows). */
export async function everyTokenLoss(model: Gpt, tokens: Int32Array, context: number, batch: number): Promise<number> {
  const { starts, tail } = coveringWindows(tokens.length, context);
  let total = starts.length > 0 ? (await meanLoss(model, tokens, starts, context, batch)) * starts.length * context : 0;
  if (tail) {
    const { start, scored } = tail;
    const lossT = tf.tidy(() => {
      const logits = model.forward(tf.tensor2d(tokens.subarray(start, start + context), [1, context], 'int32'));
      const targets = tf.tensor1d(tokens.subarray(start + 1 + context - scored, start + 1 + context), 'int32');
      return crossEntropy(tf.slice(logits, [context - scored, 0], [scored, -1]) as tf.Tensor2D, targets);
    });
    total += (await lossT.data())[0] * scored;
    lossT.dispose();
  }
  return total / (tokens.length - 1);
}

/** Mean cross-entropy over the trained tokens of examples (core/example-batches.ts), `batch` rows at a time. */
export async function examplesLoss(model: Gpt, rows: ExampleRows, batch: number): Promise<number> {
  let total = 0;
  let count = 0;
  for (let i = 0; i < rows.length; i += batch) {
    const picked = Array.from({ length: Math.min(batch, rows.length - i) }, (_, b) => rows.row(i + b));
    const { inputs, targets, width } = exampleBatch(picked);
    const n = targets.filter((t) => t !== IGNORED).length;
    const lossT = tf.tidy(() =>
      model.loss(
        tf.tensor2d(inputs, [inputs.length / width, width], 'int32'),
        tf.tensor2d(targets, [targets.length / width, width], 'int32'),
      ),
    );
    total += (await lossT.data())[0] * n;
    count += n;
    lossT.dispose();
  }
  return total / count;
}
