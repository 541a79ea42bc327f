import { UserError } from './errors';
import { ModelConfig } from './model-config';
import { HostTensor, NamedTensors, elementCount } from './tensor';
import { Int8Tensor, encodeSafetensors, readSafetensors } from './safetensors';
import { checkTensors } from './checkpoint';
import { modelNames, weightShapes } from './weight-table';
import { addLegacyEmbedScale, legacyDytShapes } from './dyt';

/**
 * Weight-only int8 checkpoints (docs: README "int8 checkpoints").
 *
 * File `model-int8.safetensors`, metadata {"format": "corpus-lab-int8", "scheme": …}:
 * - the linear layers of each block (GPT-2: attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj in Conv1D
 *   layout [in, out]; Llama-family: q/k/v/o_proj, gate/up/down_proj in nn.Linear layout [out, in])
 *   are I8 tensors under their Hugging Face names, each with an F32 `<name>_scale`:
 *   - scheme "channel": one scale per output channel, shape [out];
 *   - scheme "q8_0": one scale per block of 32 consecutive inputs of an output channel (llama.cpp's
 *     Q8_0 block), shape [ceil(in / 32), out] for Conv1D and [out, ceil(in / 32)] for nn.Linear;
 *   scale = max |w| / 127 over its group, q = round(w / scale), w ≈ q · scale (|error| ≤ scale / 2);
 * - everything else (embeddings, a head of its own, norms, biases, Dynamic Tanh alphas) stays F32.
 * Loading dequantizes to fp32, so the model runs exactly as an fp32 one: smaller files, not faster.
 */
export type Int8Scheme = 'channel' | 'q8_0';
export const INT8_SCHEMES: readonly Int8Scheme[] = ['channel', 'q8_0'];
export const INT8_WEIGHTS_FILE = 'model-int8.safetensors';
export const INT8_FORMAT = 'corpus-lab-int8';
export const Q8_0_BLOCK = 32;
const SCALE_SUFFIX = '_scale';

/** Where a matrix keeps its output channels: GPT-2's Conv1D [in, out] or nn.Linear's [out, in] (Llama family). */
export type MatrixLayout = 'in-out' | 'out-in';

export const matrixLayout = (c: ModelConfig): MatrixLayout => (c.llama ? 'out-in' : 'in-out');

/** The matrices that are stored as int8: each block's linear layers; embeddings, a head, norms and biases are not. */
export function quantizedMatrices(c: ModelConfig): Set<string> {
  const names = modelNames(c);
  const out = new Set<string>();
  for (let i = 0; i < c.layers; i++) {
    const { qkv, q, k, v, o, gate, up, down } = names.block(i);
    for (const m of [qkv, q, k, v, o, gate, up, down]) if (m) out.add(`${m}.weight`);
  }
  return out;
}

/** The scales' shape and the scale each element (by its flat index) is quantized with. */
function scaleGroups(shape: number[], scheme: Int8Scheme, layout: MatrixLayout): { shape: number[]; of: (index: number) => number } {
  const [rows, cols] = shape;
  if (layout === 'in-out') {
    const blocks = Math.ceil(rows / Q8_0_BLOCK);
    return scheme === 'channel'
      ? { shape: [cols], of: (i) => i % cols }
      : { shape: [blocks, cols], of: (i) => Math.floor(Math.floor(i / cols) / Q8_0_BLOCK) * cols + (i % cols) };
  }
  const blocks = Math.ceil(cols / Q8_0_BLOCK);
  return scheme === 'channel'
    ? { shape: [rows], of: (i) => Math.floor(i / cols) }
    : { shape: [rows, blocks], of: (i) => Math.floor(i / cols) * blocks + Math.floor((i % cols) / Q8_0_BLOCK) };
}

/** Quantizes a matrix per output channel, or per block of 32 inputs of a channel. */
export function quantizeMatrix(w: HostTensor, scheme: Int8Scheme, layout: MatrixLayout): { q: Int8Tensor; scale: HostTensor } {
  if (w.shape.length !== 2) throw new Error(`internal: quantizeMatrix needs a matrix, got [${w.shape}]`);
  const groups = scaleGroups(w.shape, scheme, layout);
  const scale = new Float32Array(elementCount(groups.shape));
  for (let i = 0; i < w.data.length; i++) {
    const g = groups.of(i);
    scale[g] = Math.max(scale[g], Math.abs(w.data[i]));
  }
  for (let i = 0; i < scale.length; i++) scale[i] = scale[i] / 127;
  const q = new Int8Array(w.data.length);
  for (let i = 0; i < w.data.length; i++) {
    const s = scale[groups.of(i)];
    q[i] = s === 0 ? 0 : Math.max(-127, Math.min(127, Math.round(w.data[i] / s)));
  }
  return { q: { shape: [...w.shape], data: q }, scale: { shape: groups.shape, data: scale } };
}

export function dequantizeMatrix(q: Int8Tensor, scale: HostTensor, scheme: Int8Scheme, layout: MatrixLayout): HostTensor {
  const groups = scaleGroups(q.shape, scheme, layout);
  const out = new Float32Array(q.data.length);
  for (let i = 0; i < out.length; i++) out[i] = q.data[i] * scale.data[groups.of(i)];
  return { shape: [...q.shape], data: out };
}

/** The bytes of model-int8.safetensors for fp32 weights. */
export function encodeInt8Weights(config: ModelConfig, weights: NamedTensors, scheme: Int8Scheme): Buffer {
  const quantized = quantizedMatrices(config);
  const fp32: NamedTensors = new Map();
  const int8 = new Map<string, Int8Tensor>();
  for (const [name, t] of weights) {
    if (!quantized.has(name)) {
      fp32.set(name, t);
      continue;
    }
    const { q, scale } = quantizeMatrix(t, scheme, matrixLayout(config));
    int8.set(name, q);
    fp32.set(name + SCALE_SUFFIX, scale);
  }
  const metadata: Record<string, string> = { format: INT8_FORMAT, scheme };
  if (scheme === 'q8_0') metadata.block = String(Q8_0_BLOCK);
  return encodeSafetensors(fp32, metadata, int8);
}

/**
 * Reads an int8 weights file for a config and returns the dequantized fp32 weights. Untrusted:
 * metadata, names, dtypes and shapes are checked against the config before any data is read,
 * and every scale must be finite and ≥ 0.
 */
export function readInt8Weights(
  path: string,
  config: ModelConfig,
  opts: { legacyDyt?: boolean } = {},
): { weights: NamedTensors; scheme: Int8Scheme } {
  const expected = opts.legacyDyt ? legacyDytShapes(weightShapes(config)) : weightShapes(config);
  const quantized = quantizedMatrices(config);
  const layout = matrixLayout(config);
  let scheme: Int8Scheme = 'channel';
  const file = readSafetensors(path, {
    dtypes: ['F32', 'I8'],
    check: (header, metadata) => {
      if (metadata.format !== INT8_FORMAT)
        throw new UserError(
          '{0}: metadata format is {1}, not "{2}": not a Corpus Lab int8 file',
          path,
          JSON.stringify(metadata.format),
          INT8_FORMAT,
        );
      if (!INT8_SCHEMES.includes(metadata.scheme as Int8Scheme))
        throw new UserError('{0}: unknown int8 scheme {1} ({2})', path, JSON.stringify(metadata.scheme), INT8_SCHEMES.join(', '));
      scheme = metadata.scheme as Int8Scheme;
      if (scheme === 'q8_0' && metadata.block !== String(Q8_0_BLOCK))
        throw new UserError('{0}: q8_0 block {1} is not supported ({2})', path, JSON.stringify(metadata.block), Q8_0_BLOCK);
      const stored = new Map<string, number[]>();
      for (const [name, shape] of expected) {
        stored.set(name, shape);
        if (quantized.has(name)) stored.set(name + SCALE_SUFFIX, scaleGroups(shape, scheme, layout).shape);
      }
      checkTensors(header, stored, path);
      for (const [name, { dtype }] of header) {
        const want = quantized.has(name) ? 'I8' : 'F32';
        if (dtype !== want) throw new UserError('{0}: {1} is {2}, expected {3}', path, name, dtype, want);
      }
    },
  });
  const weights: NamedTensors = new Map();
  for (const name of expected.keys()) {
    if (!quantized.has(name)) {
      weights.set(name, file.tensors.get(name)!);
      continue;
    }
    const scale = file.tensors.get(name + SCALE_SUFFIX)!;
    if (!scale.data.every((s) => Number.isFinite(s) && s >= 0))
      throw new UserError('{0}: {1}{2} has a negative or non-finite scale', path, name, SCALE_SUFFIX);
    weights.set(name, dequantizeMatrix(file.int8.get(name)!, scale, scheme, layout));
  }
  if (opts.legacyDyt) addLegacyEmbedScale(weights);
  return { weights, scheme };
}
