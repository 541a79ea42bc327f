import { tf } from '../engine/backend';
import { Gpt } from '../model/gpt';
import { addEmbeddingGradient } from '../model/ops';
import { AdamW, clipScale } from './adamw';
import { mixSeed } from '../../core/rng';
import type { ReplicaPool } from './replicas/replica-pool';

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

/** Rows of one batch that one thread works on. */
export interface Shard {
  inputs: Int32Array;
  targets: Int32Array;
  rows: number;
  /** The shard's share of the batch's trained targets: its mean loss is weighted by it, so shard gradients add up to the batch's. */
  lossScale: number;
  dropoutSeed?: number;
}

/**
 * Loss and gradients (by parameter name) of one shard; tensors belong to the caller's scope.
 * A trainable token embedding is looked up outside the tape and its embeddings differentiated
 * instead: its gradient is then the tied head's alone, and the lookup's part is added into it
 * (in place on the native engine) rather than tfjs adding two [vocab, width] tensors into a third.
 */
export function shardGradients(model: Gpt, s: Shard): { loss: tf.Scalar; grads: Record<string, tf.Tensor> } {
  const context = s.inputs.length / s.rows;
  const x = tf.tensor2d(s.inputs, [s.rows, context], 'int32');
  const y = tf.tensor2d(s.targets, [s.rows, context], 'int32');
  const tokens = model.params.has(model.embeddingName) ? model.tokenEmbeddings(x) : undefined;
  const names = [...model.params.keys()];
  const loss = () => {
    const l = model.loss(x, y, s.dropoutSeed, tokens);
    return s.lossScale === 1 ? l : (tf.mul(l, s.lossScale) as tf.Scalar);
  };
  const xs = [...(tokens ? [tokens] : []), ...model.params.values()];
  const { value, grads } = tf.engine().gradients(loss, xs, undefined, true);
  const byName: Record<string, tf.Tensor> = {};
  names.forEach((name, i) => (byName[name] = grads[xs.length - names.length + i]));
  if (tokens) {
    const dTokens = grads[0] as tf.Tensor2D;
    const ids = tf.reshape(x, [x.size]) as tf.Tensor1D;
    // An output head of its own (Llama-family, untied) leaves the embedding no gradient on the tape: the lookup's is all of it.
    const dHead = byName[model.embeddingName] ?? tf.zerosLike(model.params.get(model.embeddingName)!);
    byName[model.embeddingName] = addEmbeddingGradient(dHead as tf.Tensor2D, ids, dTokens);
    tf.dispose([tokens, dTokens, ids]);
  }
  return { loss: value, grads: byName };
}

/** The batch cut into `n` shards of whole rows (the first ones one row larger when it does not divide). */
export function splitBatch(s: StepInput, n: number): Shard[] {
  const context = s.inputs.length / s.batch;
  // Targets below zero (masked prompts, padding) are not trained: a shard weighs what it trains.
  const trained = (t: Int32Array) => t.reduce((n, id) => n + (id >= 0 ? 1 : 0), 0);
  const batchTrained = trained(s.targets);
  const shards: Shard[] = [];
  let row = 0;
  for (let i = 0; i < n; i++) {
    const rows = Math.floor(s.batch / n) + (i < s.batch % n ? 1 : 0);
    const span = [row * context, (row + rows) * context];
    const targets = s.targets.slice(span[0], span[1]);
    shards.push({
      inputs: s.inputs.slice(span[0], span[1]),
      targets,
      rows,
      lossScale: batchTrained === 0 ? rows / s.batch : trained(targets) / batchTrained,
      dropoutSeed: s.dropoutSeed === undefined || i === 0 ? s.dropoutSeed : mixSeed(s.dropoutSeed, i),
    });
    row += rows;
  }
  return shards;
}

/**
 * Forward, backward, clip and AdamW update; returns the loss and pre-clip gradient norm (read once,
 * together). With `replicas`, the batch is split across their threads and the gradients summed.
 */
export async function trainStep(
  model: Gpt,
  optimizer: AdamW,
  s: StepInput,
  replicas?: ReplicaPool,
): Promise<{ loss: number; gradNorm: number }> {
  const threads = Math.min(replicas?.size ?? 1, s.batch);
  if (!replicas || threads < 2) return finish(() => shardGradients(model, { ...s, rows: s.batch, lossScale: 1 }));

  const shards = splitBatch(s, threads);
  replicas.publishWeights(model.params);
  const others = replicas.run(shards.slice(1));
  let own: { loss: tf.Scalar; grads: Record<string, tf.Tensor> };
  try {
    own = tf.tidy(() => shardGradients(model, shards[0]));
  } finally {
    // A failing replica must not leave an unhandled rejection behind when our own shard threw.
    others.catch(() => undefined);
  }
  try {
    await others;
    return await finish(() => {
      const names = [...model.params.keys()];
      const grads: Record<string, tf.Tensor> = {};
      names.forEach((name, i) => {
        let g = own.grads[name];
        for (let k = 1; k < threads; k++) g = tf.add(g, tf.tensor(replicas.gradient(k, i), g.shape, 'float32'));
        grads[name] = g;
      });
      let loss: tf.Scalar = own.loss;
      for (let k = 1; k < threads; k++) loss = tf.add(loss, replicas.loss(k));
      return { loss, grads };
    });
  } finally {
    tf.dispose([own.loss, ...Object.values(own.grads)]);
  }

  async function finish(
    lossAndGrads: () => { loss: tf.Scalar; grads: Record<string, tf.Tensor> },
  ): Promise<{ loss: number; gradNorm: number }> {
    const both = tf.tidy(() => {
      const { loss, grads } = lossAndGrads();
      const { scale, norm } = clipScale(grads, s.gradClip);
      optimizer.apply(grads, s.lr, s.update, scale);
      return tf.stack([loss, norm]);
    });
    const [loss, gradNorm] = await both.data();
    both.dispose();
    return { loss, gradNorm };
  }
}
