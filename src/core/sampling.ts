import { Rng } from './rng';

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
  const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
  const k = o.topK > 0 ? Math.min(o.topK, order.length) : order.length;
  const top = order.slice(0, k);
  const max = logits[top[0]];
  const weights = top.map((i) => Math.exp((logits[i] - max) / o.temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let kept = top.length;
  if (o.topP < 1) {
    let acc = 0;
    for (let i = 0; i < top.length; i++) {
      acc += weights[i] / total;
      if (acc >= o.topP) {
        kept = i + 1;
        break;
      }
    }
  }
  const keptTotal = weights.slice(0, kept).reduce((a, b) => a + b, 0);
  let r = rng.next() * keptTotal;
  for (let i = 0; i < kept; i++) {
    r -= weights[i];
    if (r < 0) return top[i];
  }
  return top[kept - 1];
}

export function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}
