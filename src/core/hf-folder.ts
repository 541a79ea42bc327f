import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Message, UserError, message } from './errors';
import { parseJsonObject } from './json';
import { readRegularFile } from './safe-fs';
import { ModelConfig } from './model-config';
import { NamedTensors } from './tensor';
import { readSafetensors } from './safetensors';
import { fromGpt2ConfigJson, isLegacyDytConfig } from './gpt2-config';
import { DYT_MODEL_TYPE, addLegacyEmbedScale, legacyDytShapes } from './dyt';
import { checkTensors, dropZeroBiases } from './checkpoint';
import { gpt2TensorShapes, weightShapes } from './weight-table';
import { modelTokenizer } from './model-tokenizer';
import type { Tokenizer } from './tokenizer';
import { HF_INDEX_FILE, HF_WEIGHTS_FILE } from './hf-weights';
import { fromLlamaConfigJson, isLlamaFamily } from './llama-config';
import { WeightDestination, dropPaddedRows, readLlamaWeights } from './llama-folder';

export { HF_WEIGHTS_FILE } from './hf-weights';

/**
 * A GPT-2 config.json from anywhere (untrusted): what fromGpt2ConfigJson checks, plus the options
 * that would make Hugging Face compute something our model does not.
 */
export function readGpt2Config(path: string): ModelConfig {
  const text = readRegularFile(path);
  const config = fromGpt2ConfigJson(text, path);
  const o = parseJsonObject(text, path);
  const refuse = (key: string, why: Message) => {
    throw new UserError('{0}: {1} {2} is not supported ({3})', path, key, JSON.stringify(o[key]), why);
  };
  if (o.layer_norm_epsilon !== undefined && o.layer_norm_epsilon !== 1e-5)
    refuse('layer_norm_epsilon', message('Corpus Lab normalises with 1e-5, as GPT-2'));
  if (o.scale_attn_weights === false) refuse('scale_attn_weights', message('attention is always scaled by 1/√head size'));
  if (o.scale_attn_by_inverse_layer_idx === true) refuse('scale_attn_by_inverse_layer_idx', message("GPT-2's attention scaling only"));
  if (o.add_cross_attention === true) refuse('add_cross_attention', message('a decoder-only GPT'));
  if (o.n_ctx !== undefined && o.n_ctx !== o.n_positions)
    refuse('n_ctx', message('it differs from n_positions {0}', JSON.stringify(o.n_positions)));
  return config;
}

/** Whether config.json asks for an lm_head of its own (tie_word_embeddings defaults to true). */
function tiedHead(configPath: string): boolean {
  return parseJsonObject(readRegularFile(configPath), configPath).tie_word_embeddings !== false;
}

const MASK_BUFFER = /^(?:transformer\.)?h\.(\d+)\.attn\.(bias|masked_bias)$/;

/**
 * Reads GPT-2 weights as Hugging Face writes them and returns them under our names
 * (`transformer.` prefix, no head): bare names (openai-community/gpt2) or prefixed ones, the
 * attention-mask buffers (`h.{i}.attn.bias`, `h.{i}.attn.masked_bias`) checked and left unread,
 * and an `lm_head.weight` accepted only when it equals the token embedding (tied).
 * Names and shapes are checked before any tensor data is read.
 */
export function readGpt2Weights(path: string, config: ModelConfig, opts: { tied: boolean; legacyDyt?: boolean }): NamedTensors {
  const expected = opts.legacyDyt ? legacyDytShapes(gpt2TensorShapes(config)) : gpt2TensorShapes(config);
  const canonical = (name: string, bare: boolean) => (bare && name !== 'lm_head.weight' ? `transformer.${name}` : name);
  let bare = false;
  const file = readSafetensors(path, {
    skip: (name, _dtype, shape) => {
      const m = MASK_BUFFER.exec(name);
      if (!m) return false;
      const layer = Number(m[1]);
      if (layer >= config.layers)
        throw new UserError('{0}: {1} belongs to layer {2}, but the config has {3} layers', path, name, layer, config.layers);
      const ok =
        m[2] === 'masked_bias'
          ? shape.length <= 1 && shape.every((d) => d === 1)
          : shape.length === 4 && shape[0] === 1 && shape[1] === 1 && shape[2] === shape[3] && shape[2] >= config.context;
      if (!ok) throw new UserError("{0}: {1} has shape [{2}], not that of GPT-2's attention-mask buffer", path, name, shape.join(', '));
      return true;
    },
    check: (header) => {
      const names = [...header.keys()].filter((n) => n !== 'lm_head.weight');
      const prefixed = names.filter((n) => n.startsWith('transformer.')).length;
      if (prefixed > 0 && prefixed < names.length) throw new UserError('{0}: mixes names with and without the "transformer." prefix', path);
      bare = names.length > 0 && prefixed === 0;
      const renamed = new Map([...header].map(([n, v]) => [canonical(n, bare), v]));
      const head = renamed.get('lm_head.weight');
      renamed.delete('lm_head.weight');
      checkTensors(renamed, expected, path);
      if (head && (head.shape[0] !== config.vocabSize || head.shape[1] !== config.width)) {
        throw new UserError(
          '{0}: lm_head.weight has shape [{1}] but the config needs [{2}, {3}]',
          path,
          head.shape.join(', '),
          config.vocabSize,
          config.width,
        );
      }
      if (!head && !opts.tied) throw new UserError('{0}: config.json sets tie_word_embeddings false but there is no lm_head.weight', path);
    },
  });
  const weights: NamedTensors = new Map();
  for (const [name, t] of file.tensors) weights.set(canonical(name, bare), t);
  const head = weights.get('lm_head.weight');
  if (head) {
    const wte = weights.get('transformer.wte.weight')!.data;
    const differ = head.data.findIndex((v, i) => !Object.is(v, wte[i]) && v !== wte[i]);
    if (differ >= 0) {
      throw new UserError(
        '{0}: lm_head.weight differs from the token embedding (transformer.wte.weight, first at value {1}): the model has an untied output head, and Corpus Lab GPTs tie it to the embedding',
        path,
        differ,
      );
    }
    weights.delete('lm_head.weight');
  }
  dropZeroBiases(weights, weightShapes(config), path);
  if (opts.legacyDyt) addLegacyEmbedScale(weights);
  return weights;
}

/**
 * config.json + weights + tokenizer.json of a Hugging Face folder: a GPT-2 (one model.safetensors),
 * or a Llama, Mistral, Qwen2 or Qwen3 model (one model.safetensors or shards); any other model is refused naming it.
 * A Llama-family model's weights go to `destination` where it takes them (then not in `weights`).
 */
export function readHfFolder(
  dir: string,
  destination?: WeightDestination['destination'],
): { config: ModelConfig; weights: NamedTensors; tokenizerJson: string; tokenizer: Tokenizer } {
  const file = (n: string) => join(dir, n);
  const sharded = !existsSync(file(HF_WEIGHTS_FILE)) && existsSync(file(HF_INDEX_FILE));
  if (!existsSync(file(HF_WEIGHTS_FILE)) && !sharded) {
    if (existsSync(file('pytorch_model.bin')))
      throw new UserError(
        '{0} has only pytorch_model.bin, a pickle (loading one can run code): Corpus Lab reads model.safetensors only',
        dir,
      );
    throw new UserError('{0} has no model.safetensors', dir);
  }
  if (!existsSync(file('config.json')))
    throw new UserError(
      '{0} has {1} but no config.json: it is not a Hugging Face model folder',
      dir,
      sharded ? HF_INDEX_FILE : HF_WEIGHTS_FILE,
    );
  const configText = readRegularFile(file('config.json'));
  const modelType = parseJsonObject(configText, file('config.json')).model_type;
  const llama = isLlamaFamily(modelType);
  if (!llama && modelType !== 'gpt2' && modelType !== DYT_MODEL_TYPE) refuseArchitecture(configText, file('config.json'));
  if (sharded && !llama)
    throw new UserError(
      '{0}: the weights are split into shards (model.safetensors.index.json); Corpus Lab reads one model.safetensors for GPT-2',
      dir,
    );
  if (!existsSync(file('tokenizer.json'))) {
    throw existsSync(file('vocab.json'))
      ? new UserError('{0} has no tokenizer.json (only vocab.json/merges.txt: save it with a fast tokenizer to get tokenizer.json)', dir)
      : new UserError('{0} has no tokenizer.json', dir);
  }
  const config = llama ? fromLlamaConfigJson(configText, file('config.json')) : readGpt2Config(file('config.json'));
  const tokenizerJson = readRegularFile(file('tokenizer.json'));
  const tokenizer = modelTokenizer(tokenizerJson, config, file('tokenizer.json'), { paddedRows: llama });
  if (llama) {
    const weights = readLlamaWeights(dir, config, destination && { destination, rows: tokenizer.vocabSize });
    return { config: dropPaddedRows(config, weights, tokenizer.vocabSize), weights, tokenizerJson, tokenizer };
  }
  const legacyDyt = isLegacyDytConfig(configText, file('config.json'));
  const weights = readGpt2Weights(file(HF_WEIGHTS_FILE), config, { tied: tiedHead(file('config.json')), legacyDyt });
  return { config, weights, tokenizerJson, tokenizer };
}

/** A model of another architecture, named as config.json names it. */
function refuseArchitecture(configText: string, source: string): never {
  const o = parseJsonObject(configText, source);
  const architecture = Array.isArray(o.architectures) && typeof o.architectures[0] === 'string' ? o.architectures[0] : o.model_type;
  throw new UserError(
    '{0}: the model is {1}; Corpus Lab opens GPT-2, Llama, Mistral, Qwen2 and Qwen3 models',
    source,
    typeof architecture === 'string' ? architecture : JSON.stringify(architecture ?? null),
  );
}
