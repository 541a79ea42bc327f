// A LoRA adapter folder exactly as PEFT 0.21 saves one (PeftModel.save_pretrained of a LoraConfig on a
// GPT2LMHeadModel), written without PEFT: adapter_config.json with every key PEFT writes, in its
// order (sorted, two-space indent), adapter_model.safetensors with PEFT's key names and F32
// {"format": "pt"}, its README.md — and no adapter_base.json, which is Corpus Lab's own.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LoraAdapter } from '../src/core/lora-adapter';
import { NamedTensors } from '../src/core/tensor';
import { encodeSafetensors } from '../src/core/safetensors';

/** adapter_config.json as PEFT 0.21.0 wrote it for LoraConfig(r, lora_alpha, target_modules, …) on GPT-2. */
export function peftAdapterConfig(adapter: LoraAdapter, baseName: string | null, overrides: Record<string, unknown> = {}): string {
  const s = adapter.settings;
  const o: Record<string, unknown> = {
    alora_invocation_tokens: null,
    alpha_pattern: {},
    arrow_config: null,
    auto_mapping: { base_model_class: 'GPT2LMHeadModel', parent_library: 'transformers.models.gpt2.modeling_gpt2' },
    base_model_name_or_path: baseName,
    bias: 'none',
    corda_config: null,
    ensure_weight_tying: false,
    eva_config: null,
    exclude_modules: null,
    fan_in_fan_out: true,
    inference_mode: true,
    init_lora_weights: false,
    kasa_config: null,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: s.layers ?? null,
    loftq_config: {},
    lora_alpha: s.alpha,
    lora_bias: false,
    lora_dropout: s.dropout,
    lora_ga_config: null,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: null,
    monteclora_config: null,
    peft_type: 'LORA',
    peft_version: '0.21.0',
    qalora_group_size: 16,
    r: s.r,
    rank_pattern: {},
    revision: null,
    // PEFT keeps the order the user gave (a set turned into a list), not sorted.
    target_modules: s.targets,
    target_parameters: null,
    task_type: null,
    trainable_token_indices: null,
    use_bdlora: null,
    use_dora: false,
    use_qalora: false,
    use_rslora: s.rslora,
    velora_config: null,
    ...overrides,
  };
  const sorted = Object.fromEntries(
    Object.keys(o)
      .sort()
      .map((k) => [k, o[k]]),
  );
  return JSON.stringify(sorted, null, 2);
}

/** The folder PEFT's save_pretrained writes for `adapter`; `baseName` is base_model_name_or_path (null: a model built in memory). */
export function writePeftAdapter(
  dir: string,
  adapter: LoraAdapter,
  baseName: string | null,
  overrides: Record<string, unknown> = {},
): string {
  mkdirSync(dir, { recursive: true });
  const tensors: NamedTensors = new Map();
  for (const [module, { a, b }] of adapter.layers) {
    tensors.set(`base_model.model.${module}.lora_A.weight`, a);
    tensors.set(`base_model.model.${module}.lora_B.weight`, b);
  }
  writeFileSync(join(dir, 'adapter_model.safetensors'), encodeSafetensors(tensors, { format: 'pt' }));
  writeFileSync(join(dir, 'adapter_config.json'), peftAdapterConfig(adapter, baseName, overrides));
  writeFileSync(join(dir, 'README.md'), `---\nbase_model: ${baseName ?? ''}\nlibrary_name: peft\n---\n\n# Model Card for Model ID\n`);
  return dir;
}
