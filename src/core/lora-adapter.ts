import { createHash } from 'node:crypto';
import { closeSync, readSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Message, UserError, message } from './errors';
import { isObject, parseJsonObject } from './json';
import { openRegularFile, readRegularFile } from './safe-fs';
import { ModelConfig } from './model-config';
import { modelNames, weightTable } from './weight-table';
import { HostTensor, NamedTensors } from './tensor';
import { encodeSafetensors, readSafetensors } from './safetensors';
import { checkTensors } from './checkpoint';

/**
 * LoRA adapters in PEFT's format (huggingface/peft), for GPT-2's Conv1D layers and the nn.Linear
 * layers of Llama-family blocks:
 * - adapter_model.safetensors, metadata {"format": "pt"}, F32, keys `base_model.model.<module>.lora_A.weight`
 *   [r, in] and `….lora_B.weight` [out, r], the module by its Hugging Face path
 *   (transformer.h.{i}.attn.c_attn, model.layers.{i}.self_attn.q_proj);
 * - adapter_config.json (sorted keys, indent 2, as PEFT writes it), fan_in_fan_out true for GPT-2
 *   (PEFT sets it for Conv1D whatever the config says, so false reads the same), false for nn.Linear;
 * - adapter_base.json (ours): the base folder and the sha256 of its weights file, so an adapter
 *   is never applied to weights it was not trained on. PEFT's own adapters lack it: adapter-base.ts
 *   finds their base.
 * The adapted layer computes x·W + b (Conv1D; nn.Linear: x·Wᵀ + b) + scale · x·Aᵀ·Bᵀ, scale = alpha / r
 * (alpha / √r with rsLoRA); merged, W' = W + scale · (B·A)ᵀ (nn.Linear: W + scale · B·A).
 */
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_BASE_FILE = 'adapter_base.json';

/** PEFT's target_modules for every linear layer of the blocks (not the output head). */
export const ALL_LINEAR = 'all-linear';

export interface LoraSettings {
  r: number;
  alpha: number;
  rslora: boolean;
  /** target_modules as PEFT matches them: a module path, or its ending after a dot (c_attn, mlp.c_fc, q_proj), or all-linear. */
  targets: string[];
  dropout: number;
  /** layers_to_transform: only these blocks' modules matched by a name's ending (undefined: every block). */
  layers?: number[];
  /** layers_pattern of a PEFT adapter with layers: the name of the list of blocks (GPT-2's "h", Llama's "layers"). */
  layersPattern?: string[];
}

export interface LoraAdapter {
  settings: LoraSettings;
  /** By module path (transformer.h.0.attn.c_attn): A [r, in], B [out, r]. */
  layers: Map<string, { a: HostTensor; b: HostTensor }>;
}

export interface BaseRecord {
  /** The base model folder (absolute). */
  path: string;
  /** Its weights file, relative to path. */
  weights_file: string;
  sha256: string;
  bytes: number;
}

/** Far above any alpha in use (PEFT's examples use 8 to 128); beyond it the merged weights overflow. */
export const MAX_LORA_ALPHA = 1_000_000;

export function loraScale(s: Pick<LoraSettings, 'r' | 'alpha' | 'rslora'>): number {
  return s.alpha / (s.rslora ? Math.sqrt(s.r) : s.r);
}

/** The linear layers of block i LoRA can adapt, by module path: GPT-2's Conv1D four, Llama's seven projections. */
function blockModules(c: ModelConfig, i: number): string[] {
  const n = modelNames(c).block(i);
  return [n.qkv, n.q, n.k, n.v, n.o, n.gate, n.up, n.down].filter((m): m is string => m !== undefined);
}

/** Whether a module's weight is nn.Linear's [out, in] (Llama family) rather than GPT-2 Conv1D's [in, out]. */
const isLinearLayout = (module: string) => !module.startsWith('transformer.h.');

/** [in, out] of each adaptable module of a model. */
export function loraModuleShapes(c: ModelConfig): Map<string, [number, number]> {
  const table = weightTable(c);
  const out = new Map<string, [number, number]>();
  for (let i = 0; i < c.layers; i++) {
    for (const m of blockModules(c, i)) {
      const [rows, cols] = table.get(`${m}.weight`)!.shape;
      out.set(m, isLinearLayout(m) ? [cols, rows] : [rows, cols]);
    }
  }
  return out;
}

/** Parameters of rank-`r` adapters (A [r, in] and B [out, r]) on `modules`. */
export function loraParameterCount(c: ModelConfig, modules: readonly string[], r: number): number {
  const shapes = loraModuleShapes(c);
  return modules.reduce((n, m) => n + r * (shapes.get(m)![0] + shapes.get(m)![1]), 0);
}

/** The names a user gives targets by: each module's path inside a block (attn.c_attn, self_attn.q_proj). */
function moduleNames(c: ModelConfig): string[] {
  const prefix = c.llama ? 'model.layers.0.' : 'transformer.h.0.';
  return blockModules(c, 0).map((m) => m.slice(prefix.length));
}

/**
 * The modules PEFT would adapt for `targets` (a name matches a module whose path equals it or ends
 * with "." + it; all-linear: every one). A target that matches nothing is an error listing the
 * names that exist — PEFT users lose whole runs to a mistyped target that silently trains nothing.
 */
export function matchTargets(c: ModelConfig, targets: string[], layers?: number[]): string[] {
  if (targets.length === 0) throw new UserError('LoRA needs at least one target module ({0})', moduleNames(c).join(', '));
  const beyond = layers?.find((i) => i >= c.layers);
  if (beyond !== undefined) throw new UserError('layers_to_transform names block {0}, but the base model has {1} blocks', beyond, c.layers);
  const modules = [...loraModuleShapes(c).keys()];
  const matched = new Set<string>();
  const blockOf = (m: string) => Number(m.split('.')[2]);
  for (const t of targets) {
    const hits = t === ALL_LINEAR ? modules : modules.filter((m) => m === t || m.endsWith(`.${t}`));
    if (hits.length === 0) {
      throw new UserError(
        'LoRA target "{0}" matches no module of this model; the modules are {1} (in each of the {2} blocks{3})',
        t,
        [...moduleNames(c), ALL_LINEAR].join(', '),
        c.layers,
        c.llama ? '' : message('; c_proj names both projections'),
      );
    }
    // As PEFT: layers_to_transform narrows a match by a name's ending, not a module named in full.
    for (const h of hits) if (h === t || !layers || layers.includes(blockOf(h))) matched.add(h);
  }
  if (matched.size === 0) throw new UserError('layers_to_transform {0} leaves no module to adapt', JSON.stringify(layers));
  return modules.filter((m) => matched.has(m));
}

/** The model's name for an adapter matrix (PEFT's key without `base_model.model.`). */
export const loraParamName = (module: string, ab: 'A' | 'B') => `${module}.lora_${ab}.weight`;
const peftKey = (module: string, ab: 'A' | 'B') => `base_model.model.${loraParamName(module, ab)}`;

/**
 * adapter_config.json exactly as PEFT writes it: sorted keys, two-space indent, no newline at the end.
 * `linear`: the adapted layers are nn.Linear (Llama family), so fan_in_fan_out is false.
 */
export function adapterConfigJson(s: LoraSettings, baseName: string, linear = false): string {
  const o: Record<string, unknown> = {
    alpha_pattern: {},
    base_model_name_or_path: baseName,
    bias: 'none',
    fan_in_fan_out: !linear,
    inference_mode: true,
    init_lora_weights: true,
    layers_to_transform: s.layers ?? null,
    lora_alpha: s.alpha,
    lora_dropout: s.dropout,
    modules_to_save: null,
    peft_type: 'LORA',
    r: s.r,
    rank_pattern: {},
    target_modules: [...s.targets].sort(),
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: s.rslora,
  };
  const sorted = Object.fromEntries(
    Object.keys(o)
      .sort()
      .map((k) => [k, o[k]]),
  );
  return JSON.stringify(sorted, null, 2);
}

/** The files of an adapter folder (add tokenizer.json etc. as the caller needs). */
export function adapterFiles(adapter: LoraAdapter, base: BaseRecord): Record<string, Buffer | string> {
  const tensors: NamedTensors = new Map();
  for (const [module, { a, b }] of adapter.layers) {
    tensors.set(peftKey(module, 'A'), a);
    tensors.set(peftKey(module, 'B'), b);
  }
  return {
    [ADAPTER_WEIGHTS_FILE]: encodeSafetensors(tensors, { format: 'pt' }),
    [ADAPTER_CONFIG_FILE]: adapterConfigJson(adapter.settings, base.path, [...adapter.layers.keys()].some(isLinearLayout)),
    [ADAPTER_BASE_FILE]: JSON.stringify(base, null, 2) + '\n',
  };
}

/** Reads adapter_config.json (untrusted): PEFT's defaults for omitted keys, refusing what we cannot apply. */
export function readAdapterSettings(path: string): LoraSettings {
  const o = parseJsonObject(readRegularFile(path), path);
  const fail = (why: Message): never => {
    throw new UserError('{0}: {1}', path, why);
  };
  if (o.peft_type !== 'LORA') fail(message('peft_type is {0}; Corpus Lab reads LoRA adapters ("LORA")', JSON.stringify(o.peft_type)));
  const r = o.r ?? 8;
  if (!Number.isSafeInteger(r) || (r as number) < 1 || (r as number) > 4096)
    fail(message('r must be a whole number from 1 to 4096 (got {0})', JSON.stringify(r)));
  const alpha = o.lora_alpha ?? 8;
  if (typeof alpha !== 'number' || !(alpha > 0 && alpha <= MAX_LORA_ALPHA))
    fail(message('lora_alpha must be a positive number up to {0} (got {1})', MAX_LORA_ALPHA, JSON.stringify(alpha)));
  const rslora = o.use_rslora ?? false;
  if (typeof rslora !== 'boolean') fail(message('use_rslora must be true or false'));
  const dropout = o.lora_dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1))
    fail(message('lora_dropout must be at least 0 and below 1 (got {0})', JSON.stringify(dropout)));
  if (o.bias !== undefined && o.bias !== 'none')
    fail(message('bias {0} is not supported (only "none": the adapter trains no biases)', JSON.stringify(o.bias)));
  if (o.use_dora === true) fail(message('DoRA adapters (use_dora) are not supported'));
  for (const key of ['rank_pattern', 'alpha_pattern'])
    if (isSet(o[key])) fail(message('{0} is not supported (one r and lora_alpha for every module)', key));
  if (isSet(o.modules_to_save))
    fail(
      message(
        'modules_to_save {0} is not supported: the adapter replaces whole modules, not only LoRA matrices',
        JSON.stringify(o.modules_to_save),
      ),
    );
  for (const key of LORA_VARIANT_KEYS)
    if (isSet(o[key])) fail(message('{0} is set: Corpus Lab applies plain LoRA adapters only (x·W + scale · x·Aᵀ·Bᵀ)', key));
  const t = o.target_modules === ALL_LINEAR ? [ALL_LINEAR] : o.target_modules;
  if (typeof t === 'string') fail(message('target_modules as a regular expression is not supported: list the module names'));
  if (!Array.isArray(t) || t.length === 0 || !t.every((x) => typeof x === 'string'))
    fail(message('target_modules must be a list of module names'));
  const settings: LoraSettings = {
    r: r as number,
    alpha: alpha as number,
    rslora: rslora as boolean,
    targets: t as string[],
    dropout: dropout as number,
  };
  const layers = layersToTransform(o.layers_to_transform, fail);
  if (!layers) return settings;
  const pattern = o.layers_pattern;
  if (
    isSet(pattern) &&
    pattern !== '' &&
    typeof pattern !== 'string' &&
    !(Array.isArray(pattern) && pattern.every((p) => typeof p === 'string'))
  )
    fail(message('layers_pattern must be a name or a list of names (got {0})', JSON.stringify(pattern)));
  const layersPattern = isSet(pattern) && pattern !== '' ? (typeof pattern === 'string' ? [pattern] : (pattern as string[])) : undefined;
  return { ...settings, layers, ...(layersPattern ? { layersPattern } : {}) };
}

/** PEFT options that change what the adapter computes (or where), beyond x·W + scale · x·Aᵀ·Bᵀ on matched modules. */
const LORA_VARIANT_KEYS = [
  'lora_bias',
  'exclude_modules',
  'alora_invocation_tokens',
  'layer_replication',
  'target_parameters',
  'trainable_token_indices',
  'use_qalora',
  'use_bdlora',
  'kasa_config',
  'velora_config',
  'monteclora_config',
];

/** Whether PEFT treats a config value as given (it reads None, False, [] and {} as not). */
const isSet = (v: unknown) =>
  v !== undefined && v !== null && v !== false && !(Array.isArray(v) && v.length === 0) && !(isObject(v) && Object.keys(v).length === 0);

/** layers_to_transform: an index or a list (empty means every block). */
function layersToTransform(value: unknown, fail: (why: Message) => never): number[] | undefined {
  if (!isSet(value)) return undefined;
  const layers = typeof value === 'number' ? [value] : value;
  if (!Array.isArray(layers) || !layers.every((i) => Number.isSafeInteger(i) && i >= 0))
    fail(message('layers_to_transform must be a block index or a list of them (got {0})', JSON.stringify(value)));
  return layers as number[];
}

/** Reads an adapter folder's weights for a base model config; names and shapes checked before data. */
export function readAdapter(dir: string, base: ModelConfig): LoraAdapter {
  const settings = readAdapterSettings(join(dir, ADAPTER_CONFIG_FILE));
  const blocks = base.llama ? 'layers' : 'h';
  if (settings.layersPattern && !settings.layersPattern.includes(blocks))
    throw new UserError(
      'layers_pattern {0} names no list of blocks of this model (its blocks are "{1}")',
      settings.layersPattern.map((p) => JSON.stringify(p)).join(', '),
      blocks,
    );
  const modules = matchTargets(base, settings.targets, settings.layers);
  const shapes = loraModuleShapes(base);
  const expected = new Map<string, number[]>();
  for (const m of modules) {
    const [inDim, outDim] = shapes.get(m)!;
    expected.set(peftKey(m, 'A'), [settings.r, inDim]);
    expected.set(peftKey(m, 'B'), [outDim, settings.r]);
  }
  const path = join(dir, ADAPTER_WEIGHTS_FILE);
  const file = readSafetensors(path, { dtypes: ['F32', 'BF16', 'F16'], check: (header) => checkTensors(header, expected, path) });
  const layers = new Map<string, { a: HostTensor; b: HostTensor }>();
  for (const m of modules) layers.set(m, { a: file.tensors.get(peftKey(m, 'A'))!, b: file.tensors.get(peftKey(m, 'B'))! });
  return { settings, layers };
}

/**
 * Base weights with the adapter merged in: W' = W + scale · (B·A)ᵀ in Conv1D layout [in, out], W + scale · B·A
 * in nn.Linear's [out, in]. A new map; `base` is untouched.
 */
export function mergeLora(base: NamedTensors, adapter: LoraAdapter): NamedTensors {
  const out: NamedTensors = new Map(base);
  const scale = loraScale(adapter.settings);
  const r = adapter.settings.r;
  for (const [module, { a, b }] of adapter.layers) {
    const name = `${module}.weight`;
    const w = base.get(name);
    if (!w) throw new Error(`internal: ${name} is not in the base weights`);
    const linear = isLinearLayout(module);
    const [inDim, outDim] = linear ? [w.shape[1], w.shape[0]] : w.shape;
    const at = linear ? (i: number, o: number) => o * inDim + i : (i: number, o: number) => i * outDim + o;
    const merged = Float32Array.from(w.data);
    // (B·A)ᵀ[i, o] = Σₖ A[k, i] · B[o, k], each sum and the scaled delta rounded to float32 as PEFT's
    // float32 matmul does, so a merge rounded to BF16 meets PEFT's at rounding ties too.
    const row = new Float32Array(outDim);
    for (let i = 0; i < inDim; i++) {
      row.fill(0);
      for (let k = 0; k < r; k++) {
        const aki = a.data[k * inDim + i];
        if (aki === 0) continue;
        for (let o = 0; o < outDim; o++) row[o] += aki * b.data[o * r + k];
      }
      for (let o = 0; o < outDim; o++) merged[at(i, o)] += Math.fround(scale * row[o]);
    }
    out.set(name, { shape: w.shape.slice(), data: merged });
  }
  return out;
}

/** sha256 of a regular file, read in chunks (a GPT-2 weights file is half a gigabyte). */
export function sha256File(path: string): { sha256: string; bytes: number } {
  const fd = openRegularFile(path);
  try {
    const hash = createHash('sha256');
    const buf = Buffer.alloc(1 << 22);
    let bytes = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      bytes += n;
    }
    return { sha256: hash.digest('hex'), bytes };
  } finally {
    closeSync(fd);
  }
}

export function baseRecord(baseDir: string, weightsFile: string): BaseRecord {
  const path = resolve(baseDir);
  return { path, weights_file: weightsFile, ...sha256File(join(path, weightsFile)) };
}
