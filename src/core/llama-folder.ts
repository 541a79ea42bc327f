import { UserError } from './errors';
import { ModelConfig } from './model-config';
import { HostTensor, NamedTensors, bf16HostTensor } from './tensor';
import { checkTensors } from './checkpoint';
import { readHfWeights } from './hf-weights';
import { TensorDestination, TensorHeader } from './safetensors';
import { modelNames, weightShapes } from './weight-table';

/**
 * The weights of a Llama-family folder (one model.safetensors or shards; F32, BF16 or F16, read as
 * float32 but BF16 kept as its bits: core/tensor.ts bf16HostTensor) under their Hugging Face names,
 * as weightTable(config) lists them, but those read `into` the engine. A tied head's lm_head.weight
 * may be stored too (some writers do) when it equals the embedding; it is dropped.
 */
export function readLlamaWeights(dir: string, config: ModelConfig, into?: WeightDestination): NamedTensors {
  const l = config.llama;
  if (!l) throw new Error('internal: readLlamaWeights needs a Llama-family config');
  const expected = weightShapes(config);
  const embedding = `${modelNames(config).embedding}.weight`;
  const head = `${modelNames({ ...config, llama: { ...l, tiedHead: false } }).head}.weight`;
  let tiedHeadStored = false;
  const weights = readHfWeights(dir, {
    dtypes: ['F32', 'BF16', 'F16'],
    // A stored tied head is compared with the embedding on the host: then every weight is read there.
    destination:
      into && ((header) => (tiedHeadStored ? () => undefined : keptRows(into.destination(header), into.rows, [embedding, head]))),
    check: (header, source) => {
      const found = new Map(header);
      const stored = found.get(head);
      tiedHeadStored = stored !== undefined && l.tiedHead;
      if (!stored && !l.tiedHead)
        throw new UserError('{0}: config.json sets tie_word_embeddings false but there is no lm_head.weight', source);
      if (stored && l.tiedHead) {
        checkTensors(new Map([[head, stored]]), new Map([[head, [config.vocabSize, config.width]]]), source);
        found.delete(head);
      }
      checkTensors(found, expected, source);
    },
  });
  const stored = weights.get(head);
  if (stored && l.tiedHead) {
    const differ = firstDifference(stored, weights.get(embedding)!);
    if (differ >= 0)
      throw new UserError(
        '{0}: lm_head.weight differs from the token embedding ({1}, first at value {2}), but config.json ties them (tie_word_embeddings true)',
        dir,
        embedding,
        differ,
      );
    weights.delete(head);
  }
  return weights;
}

/**
 * Where a folder's weights go as they are read instead of host arrays (the engine's memory: they
 * are then not returned), and the rows kept of the embedding and head (dropPaddedRows).
 */
export interface WeightDestination {
  destination: (header: Map<string, TensorHeader>) => TensorDestination;
  rows?: number;
}

/** `destination` asked for the first `rows` rows of the tables (the embedding, an own head) only. */
function keptRows(destination: TensorDestination, rows: number | undefined, tables: string[]): TensorDestination {
  return (name, dtype, shape) =>
    destination(name, dtype, rows !== undefined && tables.includes(name) ? [Math.min(rows, shape[0]), ...shape.slice(1)] : shape);
}

/**
 * The model over its tokenizer's tokens only, when the embedding (and an own head) has rows past
 * the last one (Qwen2.5's padding): no text encodes to them and decoding has nothing to give for
 * them, so they are dropped. Log-probabilities are then over the tokens alone: a padded row's
 * share (next to nothing in a trained model, which never saw it as a target) is left out.
 */
export function dropPaddedRows(config: ModelConfig, weights: NamedTensors, tokens: number): ModelConfig {
  if (tokens === config.vocabSize) return config;
  const names = modelNames(config);
  for (const module of [names.embedding, names.head]) {
    const t = module && weights.get(`${module}.weight`);
    if (!t) continue; // none, or read already without the padded rows (WeightDestination)
    const shape = [tokens, t.shape[1]];
    const values = tokens * t.shape[1];
    weights.set(`${module}.weight`, t.bf16 ? bf16HostTensor(shape, t.bf16.slice(0, values)) : { shape, data: t.data.slice(0, values) });
  }
  return { ...config, vocabSize: tokens };
}

/** Index of the first value where two tensors of one shape differ (compared as stored), or -1. */
function firstDifference(a: HostTensor, b: HostTensor): number {
  const [x, y] = a.bf16 && b.bf16 ? [a.bf16, b.bf16] : [a.data, b.data];
  return x.findIndex((v, i) => v !== y[i]);
}
