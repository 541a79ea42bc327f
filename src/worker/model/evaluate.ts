import { tf } from '../engine/backend';
import { Gpt } from './gpt';
import { fillWindows } from '../../core/batches';

/** Mean next-token cross-entropy over the windows starting at `starts` (no dropout). */
export async function meanLoss(model: Gpt, tokens: Int32Array, starts: number[], context: number, batch: number): Promise<number> {
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
