import { UserError } from './errors';
import { ModelConfig } from './model-config';
import { NamedTensors } from './tensor';
import { checkTensors } from './checkpoint';
import { readHfWeights } from './hf-weights';
import { modelNames, weightShapes } from './weight-table';

/**
 * The weights of a Llama-family folder (one model.safetensors or shards; F32, BF16 or F16, read as
 * float32) under their Hugging Face names, as weightTable(config) lists them. A tied head's
 * lm_head.weight may be stored too (some writers do) when it equals the embedding; it is dropped.
 */
export function readLlamaWeights(dir: string, config: ModelConfig): NamedTensors {
  const l = config.llama;
  if (!l) throw new Error('internal: readLlamaWeights needs a Llama-family config');
  const expected = weightShapes(config);
  const embedding = `${modelNames(config).embedding}.weight`;
  const head = `${modelNames({ ...config, llama: { ...l, tiedHead: false } }).head}.weight`;
  const weights = readHfWeights(dir, {
    dtypes: ['F32', 'BF16', 'F16'],
    check: (header, source) => {
      const found = new Map(header);
      const stored = found.get(head);
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
    const rows = weights.get(embedding)!.data;
    const differ = stored.data.findIndex((v, i) => v !== rows[i]);
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
 * The model over its tokenizer's tokens only, when the embedding (and an own head) has rows past
 * the last one (Qwen2.5's padding): no text encodes to them and decoding has nothing to give for
 * them, so they are dropped. Log-probabilities are then over the tokens alone: a padded row's
 * share (next to nothing in a trained model, which never saw it as a target) is left out.
 */
export function dropPaddedRows(config: ModelConfig, weights: NamedTensors, tokens: number): ModelConfig {
  if (tokens === config.vocabSize) return config;
  const names = modelNames(config);
  for (const module of [names.embedding, names.head]) {
    if (!module) continue;
    const t = weights.get(`${module}.weight`)!;
    weights.set(`${module}.weight`, { shape: [tokens, t.shape[1]], data: t.data.slice(0, tokens * t.shape[1]) });
  }
  return { ...config, vocabSize: tokens };
}
