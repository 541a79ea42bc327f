import { SamplingOptions } from './sampling';

/** A next-token distribution as sampling would see it (the Next Token view and `corpus-lab next`). */
export interface Shaped {
  /** Token ids, likeliest first (ties: lower id first). */
  order: number[];
  /** Probability of each id: softmax(logits / temperature); temperature 0 puts all of it on the argmax. */
  probs: Float64Array;
  /** Entropy of `probs` in bits. */
  entropyBits: number;
  /** How many of `order` top-k and then top-p keep for sampling, and their share of `probs`. */
  kept: number;
  massKept: number;
}

export function shapeDistribution(logits: ArrayLike<number>, o: SamplingOptions): Shaped {
  const n = logits.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
  const probs = new Float64Array(n);
  if (o.temperature <= 0) {
    probs[order[0]] = 1;
    return { order, probs, entropyBits: 0, kept: 1, massKept: 1 };
  }
  const max = logits[order[0]];
  let total = 0;
  for (let i = 0; i < n; i++) total += probs[i] = Math.exp((logits[i] - max) / o.temperature);
  let entropy = 0;
  for (let i = 0; i < n; i++) {
    probs[i] /= total;
    if (probs[i] > 0) entropy -= probs[i] * Math.log2(probs[i]);
  }
  const k = o.topK > 0 ? Math.min(o.topK, n) : n;
  const massOf = (count: number) => order.slice(0, count).reduce((a, id) => a + probs[id], 0);
  let kept = k;
  if (o.topP < 1) {
    // Top-p among the top-k, as renormalised to them: the smallest prefix holding mass ≥ p.
    const topKMass = massOf(k);
    let acc = 0;
    for (let i = 0; i < k; i++) {
      acc += probs[order[i]] / topKMass;
      if (acc >= o.topP) {
        kept = i + 1;
        break;
      }
    }
  }
  return { order, probs, entropyBits: entropy, kept, massKept: massOf(kept) };
}
