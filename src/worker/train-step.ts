import { tf } from './engine';
import { Gpt } from './gpt';
import { AdamW, clipScale } from './adamw';

export interface StepInput {
  inputs: Int32Array;
  targets: Int32Array;
  batch: number;
  lr: number;
  /** 1-based count of this update (AdamW's bias correction). */
  update: number;
  gradClip: number;
  dropoutSeed?: number;
}

/** Forward, backward, clip and AdamW update; returns the loss and pre-clip gradient norm (read once, together). */
export async function trainStep(model: Gpt, optimizer: AdamW, s: StepInput): Promise<{ loss: number; gradNorm: number }> {
  const context = s.inputs.length / s.batch;
  const vars = [...model.params.values()];
  const both = tf.tidy(() => {
    const x = tf.tensor2d(s.inputs, [s.batch, context], 'int32');
    const y = tf.tensor2d(s.targets, [s.batch, context], 'int32');
    const { value, grads } = tf.variableGrads(() => model.loss(x, y, s.dropoutSeed), vars);
    const byName: Record<string, tf.Tensor> = {};
    for (const [name, v] of model.params) byName[name] = grads[v.name];
    const { scale, norm } = clipScale(byName, s.gradClip);
    optimizer.apply(byName, s.lr, s.update, scale);
    return tf.stack([value, norm]);
  });
  const [loss, gradNorm] = await both.data();
  both.dispose();
  return { loss, gradNorm };
}
