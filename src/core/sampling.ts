import { Rng } from './rng';
import { shapeDistribution } from './distribution';

export interface SamplingOptions {
  temperature: number;
  topK: number;
  topP: number;
}

/**
 * Picks the next token from logits: temperature 0 is greedy; otherwise the distribution is
 * cut to the top-k tokens, then to the smallest set whose probability reaches top-p.
 */
export function sampleToken(logits: Float32Array, o: SamplingOptions, rng: Rng): number {
  if (o.temperature <= 0) return argmax(logits);
  const { order, probs, kept, massKept } = shapeDistribution(logits, o);
  let r = rng.next() * massKept;
  for (let i = 0; i < kept; i++) {
    r -= probs[order[i]];
    if (r < 0) return order[i];
  }
  return order[kept - 1];
}

export function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}
