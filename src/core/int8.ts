import { UserError } from './errors';
import { ModelConfig } from './model-config';
import { HostTensor, NamedTensors, elementCount } from './tensor';
import { Int8Tensor, encodeSafetensors, readSafetensors } from './safetensors';
import { checkTensors } from './checkpoint';
import { weightShapes } from './weight-table';
import { addLegacyEmbedScale, legacyDytShapes } from './dyt';

/**
 * Weight-only int8 checkpoints (docs: README "int8 checkpoints").
 *
 * File `model-int8.safetensors`, metadata {"format": "corpus-lab-int8", "scheme": …}:
 * - the four matrices of each block (attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj; Conv1D layout
 *   [in, out]) are I8 tensors under their GPT-2 names, each with an F32 `<name>_scale`:
 *   - scheme "channel": one scale per output channel, shape [out];
 *   - scheme "q8_0": one scale per block of 32 consecutive inputs of an output channel (llama.cpp's
 *     Q8_0 block), shape [ceil(in / 32), out];
 *   scale = max |w| / 127 over its group, q = round(w / scale), w ≈ q · scale (|error| ≤ scale / 2);
 * - everything else (embeddings, norms, biases, Dynamic Tanh alphas) stays F32 under its name.
 * Loading dequantizes to fp32, so the model runs exactly as an fp32 one: smaller files, not faster.
 */
export type Int8Scheme = 'channel' | 'q8_0';
export const INT8_SCHEMES: readonly Int8Scheme[] = ['channel', 'q8_0'];
export const INT8_WEIGHTS_FILE = 'model-int8.safetensors';
export const INT8_FORMAT = 'corpus-lab-int8';
export const Q8_0_BLOCK = 32;
const SCALE_SUFFIX = '_scale';

/** The matrices that are stored as int8; embeddings (also the tied head), norms and biases are not. */
export function isQuantizedWeight(name: string): boolean {
  return /^transformer\.h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/.test(name);
}

function scaleShape(shape: number[], scheme: Int8Scheme): number[] {
  const [rows, cols] = shape;
  return scheme === 'channel' ? [cols] : [Math.ceil(rows / Q8_0_BLOCK), cols];
}

/** Quantizes a Conv1D matrix [in, out]: per output channel, or per block of 32 inputs of a channel. */
export function quantizeMatrix(w: HostTensor, scheme: Int8Scheme): { q: Int8Tensor; scale: HostTensor } {
  if (w.shape.length !== 2) throw new Error(`internal: quantizeMatrix needs a matrix, got [${w.shape}]`);
  const [rows, cols] = w.shape;
  const sShape = scaleShape(w.shape, scheme);
  const scale = new Float32Array(elementCount(sShape));
  const group = (r: number) => (scheme === 'channel' ? 0 : Math.floor(r / Q8_0_BLOCK));
  for (let r = 0; r < rows; r++) {
    const g = group(r) * cols;
    for (let c = 0; c < cols; c++) scale[g + c] = Math.max(scale[g + c], Math.abs(w.data[r * cols + c]));
  }
  for (let i = 0; i < scale.length; i++) scale[i] = scale[i] / 127;
  const q = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const g = group(r) * cols;
    for (let c = 0; c < cols; c++) {
      const s = scale[g + c];
      q[r * cols + c] = s === 0 ? 0 : Math.max(-127, Math.min(127, Math.round(w.data[r * cols + c] / s)));
    }
  }
  return { q: { shape: [...w.shape], data: q }, scale: { shape: sShape, data: scale } };
}

export function dequantizeMatrix(q: Int8Tensor, scale: HostTensor, scheme: Int8Scheme): HostTensor {
  const [rows, cols] = q.shape;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const g = (scheme === 'channel' ? 0 : Math.floor(r / Q8_0_BLOCK)) * cols;
    for (let c = 0; c < cols; c++) out[r * cols + c] = q.data[r * cols + c] * scale.data[g + c];
  }
  return { shape: [...q.shape], data: out };
}

/** The bytes of model-int8.safetensors for fp32 weights. */
export function encodeInt8Weights(weights: NamedTensors, scheme: Int8Scheme): Buffer {
  const fp32: NamedTensors = new Map();
  const int8 = new Map<string, Int8Tensor>();
  for (const [name, t] of weights) {
    if (!isQuantizedWeight(name)) {
      fp32.set(name, t);
      continue;
    }
    const { q, scale } = quantizeMatrix(t, scheme);
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
      const layout = new Map<string, number[]>();
      for (const [name, shape] of expected) {
        layout.set(name, shape);
        if (isQuantizedWeight(name)) layout.set(name + SCALE_SUFFIX, scaleShape(shape, scheme));
      }
      checkTensors(header, layout, path);
      for (const [name, { dtype }] of header) {
        const want = isQuantizedWeight(name) ? 'I8' : 'F32';
        if (dtype !== want) throw new UserError('{0}: {1} is {2}, expected {3}', path, name, dtype, want);
      }
    },
  });
  const weights: NamedTensors = new Map();
  for (const name of expected.keys()) {
    if (!isQuantizedWeight(name)) {
      weights.set(name, file.tensors.get(name)!);
      continue;
    }
    const scale = file.tensors.get(name + SCALE_SUFFIX)!;
    if (!scale.data.every((s) => Number.isFinite(s) && s >= 0))
      throw new UserError('{0}: {1}{2} has a negative or non-finite scale', path, name, SCALE_SUFFIX);
    weights.set(name, dequantizeMatrix(file.int8.get(name)!, scale, scheme));
  }
  if (opts.legacyDyt) addLegacyEmbedScale(weights);
  return { weights, scheme };
}
