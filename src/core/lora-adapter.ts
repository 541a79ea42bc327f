import { createHash } from 'node:crypto';
import { closeSync, readSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Message, UserError, message } from './errors';
import { isObject, parseJsonObject } from './json';
import { openRegularFile, readRegularFile } from './safe-fs';
import { ModelConfig } from './model-config';
import { LLAMA_ARCHITECTURES } from './llama-config';
import { HostTensor, NamedTensors } from './tensor';
import { encodeSafetensors, readSafetensors } from './safetensors';
import { checkTensors } from './checkpoint';

/**
 * LoRA adapters in PEFT's format (huggingface/peft), for GPT-2's Conv1D layers:
 * - adapter_model.safetensors, metadata {"format": "pt"}, F32, keys
 *   `base_model.model.transformer.h.{i}.<module>.lora_A.weight` [r, in] and `….lora_B.weight` [out, r];
 * - adapter_config.json (sorted keys, indent 2, as PEFT writes it), fan_in_fan_out true (PEFT sets it
 *   for Conv1D whatever the config says, so false reads the same);
 * - adapter_base.json (ours): the base folder and the sha256 of its weights file, so an adapter
 *   is never applied to weights it was not trained on. PEFT's own adapters lack it: adapter-base.ts
 *   finds their base.
 * The adapted layer computes x·W + b + scale · x·Aᵀ·Bᵀ, scale = alpha / r (alpha / √r with rsLoRA);
 * merged, W' = W + scale · (B·A)ᵀ.
 */
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_BASE_FILE = 'adapter_base.json';

/** The Conv1D modules of a GPT-2 block LoRA can adapt, by their path inside the block. */
export const LORA_MODULES = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const;

export interface LoraSettings {
  r: number;
  alpha: number;
  rslora: boolean;
  /** target_modules as PEFT matches them: a module path, or its ending after a dot (c_attn, mlp.c_fc). */
  targets: string[];
  dropout: number;
  /** layers_to_transform: only these blocks' modules matched by a name's ending (undefined: every block). */
  layers?: number[];
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

/**
 * LoRA here is PEFT's on GPT-2's Conv1D layers. Llama-family blocks (nn.Linear layers q_proj …
 * down_proj, PEFT's targets for them) are the next step; until then their LoRA is refused.
 */
export function refuseLlamaLora(c: ModelConfig, instead: Message): void {
  if (c.llama)
    throw new UserError(
      'LoRA on {0} models is not supported yet (next: adapters on q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj): {1}',
      LLAMA_ARCHITECTURES[c.llama.family],
      instead,
    );
}

/** Far above any alpha in use (PEFT's examples use 8 to 128); beyond it the merged weights overflow. */
export const MAX_LORA_ALPHA = 1_000_000;

export function loraScale(s: Pick<LoraSettings, 'r' | 'alpha' | 'rslora'>): number {
  return s.alpha / (s.rslora ? Math.sqrt(s.r) : s.r);
}

/** [in, out] of each adaptable module of a model. */
export function loraModuleShapes(c: ModelConfig): Map<string, [number, number]> {
  const w = c.width;
  const dims: Record<(typeof LORA_MODULES)[number], [number, number]> = {
    'attn.c_attn': [w, 3 * w],
    'attn.c_proj': [w, w],
    'mlp.c_fc': [w, 4 * w],
    'mlp.c_proj': [4 * w, w],
  };
  const out = new Map<string, [number, number]>();
  for (let i = 0; i < c.layers; i++) for (const m of LORA_MODULES) out.set(`transformer.h.${i}.${m}`, dims[m]);
  return out;
}

/**
 * The modules PEFT would adapt for `targets` (a name matches a module whose path equals it or ends
 * with "." + it). A target that matches nothing is an error listing the names that exist — PEFT
 * users lose whole runs to a mistyped target that silently trains nothing.
 */
export function matchTargets(c: ModelConfig, targets: string[], layers?: number[]): string[] {
  if (targets.length === 0) throw new UserError('LoRA needs at least one target module (c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj)');
  const beyond = layers?.find((i) => i >= c.layers);
  if (beyond !== undefined) throw new UserError('layers_to_transform names block {0}, but the base model has {1} blocks', beyond, c.layers);
  const modules = [...loraModuleShapes(c).keys()];
  const matched = new Set<string>();
  const blockOf = (m: string) => Number(m.split('.')[2]);
  for (const t of targets) {
    const hits = modules.filter((m) => m === t || m.endsWith(`.${t}`));
    if (hits.length === 0) {
      throw new UserError(
        'LoRA target "{0}" matches no module of this model; the modules are {1} (in each of the {2} blocks; c_proj names both projections)',
        t,
        LORA_MODULES.join(', '),
        c.layers,
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

/** adapter_config.json exactly as PEFT writes it: sorted keys, two-space indent, no newline at the end. */
export function adapterConfigJson(s: LoraSettings, baseName: string): string {
  const o: Record<string, unknown> = {
    alpha_pattern: {},
    base_model_name_or_path: baseName,
    bias: 'none',
    fan_in_fan_out: true,
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
    [ADAPTER_CONFIG_FILE]: adapterConfigJson(adapter.settings, base.path),
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
  const t = o.target_modules;
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
  const layers = layersToTransform(o.layers_to_transform, o.layers_pattern, fail);
  return layers ? { ...settings, layers } : settings;
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

/** layers_to_transform (an index or a list; empty means every block), with layers_pattern naming GPT-2's list "h" or nothing. */
function layersToTransform(value: unknown, pattern: unknown, fail: (why: Message) => never): number[] | undefined {
  if (!isSet(value)) return undefined;
  const layers = typeof value === 'number' ? [value] : value;
  if (!Array.isArray(layers) || !layers.every((i) => Number.isSafeInteger(i) && i >= 0))
    fail(message('layers_to_transform must be a block index or a list of them (got {0})', JSON.stringify(value)));
  const patterns = typeof pattern === 'string' ? [pattern] : pattern;
  if (isSet(pattern) && pattern !== '' && !(Array.isArray(patterns) && patterns.includes('h')))
    fail(message('layers_pattern {0} names no layer list of GPT-2 (its blocks are "h")', JSON.stringify(pattern)));
  return layers as number[];
}

/** Reads an adapter folder's weights for a base model config; names and shapes checked before data. */
export function readAdapter(dir: string, base: ModelConfig): LoraAdapter {
  const settings = readAdapterSettings(join(dir, ADAPTER_CONFIG_FILE));
  const modules = matchTargets(base, settings.targets, settings.layers);
  const shapes = loraModuleShapes(base);
  const expected = new Map<string, number[]>();
  for (const m of modules) {
    const [inDim, outDim] = shapes.get(m)!;
    expected.set(peftKey(m, 'A'), [settings.r, inDim]);
    expected.set(peftKey(m, 'B'), [outDim, settings.r]);
  }
  const path = join(dir, ADAPTER_WEIGHTS_FILE);
  const file = readSafetensors(path, { check: (header) => checkTensors(header, expected, path) });
  const layers = new Map<string, { a: HostTensor; b: HostTensor }>();
  for (const m of modules) layers.set(m, { a: file.tensors.get(peftKey(m, 'A'))!, b: file.tensors.get(peftKey(m, 'B'))! });
  return { settings, layers };
}

/** Base weights with the adapter merged in: W' = W + scale · (B·A)ᵀ in Conv1D layout. A new map; `base` is untouched. */
export function mergeLora(base: NamedTensors, adapter: LoraAdapter): NamedTensors {
  const out: NamedTensors = new Map(base);
  const scale = loraScale(adapter.settings);
  const r = adapter.settings.r;
  for (const [module, { a, b }] of adapter.layers) {
    const name = `${module}.weight`;
    const w = base.get(name);
    if (!w) throw new Error(`internal: ${name} is not in the base weights`);
    const [inDim, outDim] = w.shape;
    const merged = Float32Array.from(w.data);
    // (B·A)ᵀ[i, o] = Σₖ A[k, i] · B[o, k]
    const row = new Float64Array(outDim);
    for (let i = 0; i < inDim; i++) {
      row.fill(0);
      for (let k = 0; k < r; k++) {
        const aki = a.data[k * inDim + i];
        if (aki === 0) continue;
        for (let o = 0; o < outDim; o++) row[o] += aki * b.data[o * r + k];
      }
      for (let o = 0; o < outDim; o++) merged[i * outDim + o] += scale * row[o];
    }
    out.set(name, { shape: [inDim, outDim], data: merged });
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
