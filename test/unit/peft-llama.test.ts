import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { readModelFolder } from '../../src/core/model-folder';
import { readSafetensors, readSafetensorsHeader } from '../../src/core/safetensors';
import { hfWeightHeaders } from '../../src/core/hf-weights';
import { mergeAdapter } from '../../src/core/export-folder';
import { LoraAdapter, adapterFiles, baseRecord, loraModuleShapes, matchTargets } from '../../src/core/lora-adapter';
import { writeDirAtomic } from '../../src/core/atomic-write';
import { HostTensor } from '../../src/core/tensor';
import { Rng } from '../../src/core/rng';
import { loadModel } from '../../src/worker/jobs/load-model';
import { tf } from '../../src/worker/engine/backend';
import { randomTensor } from '../gpt2-folder';
import { KOREAN, REPO, maxAbsDiff, runCli, tempDir } from './helpers';

// LoRA on Llama-family folders in PEFT's format: adapters PEFT made on the fixtures
// (test/reference/make_peft_adapters.py, with what PEFT computes with them) load, merge and
// continue here; ours load in PEFT (where CORPUS_LAB_PEFT_PYTHON names a Python with it).
const BASES = join(REPO, 'test/fixtures/hf-llama');
const ADAPTERS = join(REPO, 'test/fixtures/peft-llama');
const FAMILIES = ['llama', 'mistral', 'qwen2', 'qwen3'] as const;
const root = tempDir('corpus-lab-peft-llama-');
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

interface LogProbs {
  top_ids: number[][];
  top_logprobs: number[][];
  next_logprobs: number[];
}
interface Reference {
  ids: number[];
  dtype: string;
  adapter: LogProbs;
  merged: LogProbs;
}
const reference = (family: string) => JSON.parse(readFileSync(join(ADAPTERS, family, 'reference.json'), 'utf8')) as Reference;

async function logits(path: string, ids: number[], base?: string): Promise<Float32Array[]> {
  const loaded = await loadModel(path, 'wasm', base);
  try {
    const t = loaded.model.forward(tf.tensor2d(ids, [1, ids.length], 'int32'));
    const data = (await t.data()) as Float32Array;
    t.dispose();
    const vocab = data.length / ids.length;
    return ids.map((_, i) => data.subarray(i * vocab, (i + 1) * vocab));
  } finally {
    loaded.model.dispose();
  }
}

function logSoftmax(row: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(row, (v) => v - lse);
}

/** Largest gap between our log-probabilities and PEFT's (its 10 likeliest next tokens and the actual next one). */
function gapToPeft(rows: Float32Array[], ids: number[], want: LogProbs): number {
  let gap = 0;
  rows.forEach((row, i) => {
    const lp = logSoftmax(row);
    want.top_ids[i].forEach((id, k) => (gap = Math.max(gap, Math.abs(lp[id] - want.top_logprobs[i][k]))));
    if (i < ids.length - 1) gap = Math.max(gap, Math.abs(lp[ids[i + 1]] - want.next_logprobs[i]));
  });
  return gap;
}

for (const family of FAMILIES) {
  const base = join(BASES, family);
  const adapter = join(ADAPTERS, family);
  const ref = reference(family);

  test(`${family}: an adapter PEFT made loads onto its base with PeftModel's log-probabilities (within 1e-4)`, async () => {
    const m = readModelFolder(adapter, base);
    assert.equal(m.kind, 'adapter');
    assert.ok(m.config.llama);
    const rows = await logits(adapter, ref.ids, base);
    const gap = gapToPeft(rows, ref.ids, ref.adapter);
    assert.ok(gap < 1e-4, `${family}: ours vs PEFT ${gap}`);
    assert.ok(gapToPeft(await logits(base, ref.ids), ref.ids, ref.adapter) > 1e-2, 'the adapter changes the model');
  });

  test(`${family}: merge writes a ${ref.dtype} folder of the base's family with PEFT's merge_and_unload weights (bit for bit) and log-probabilities`, async () => {
    const out = join(root, `merged-${family}`);
    const r = mergeAdapter(adapter, out, () => 'bpe', base);
    assert.equal(r.architecture, JSON.parse(readFileSync(join(base, 'config.json'), 'utf8')).architectures[0]);
    assert.equal(readFileSync(join(out, 'config.json'), 'utf8'), readFileSync(join(base, 'config.json'), 'utf8'));
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json'])
      assert.equal(readFileSync(join(out, f), 'utf8'), readFileSync(join(base, f), 'utf8'), f);
    const baseHeaders = hfWeightHeaders(base);
    const header = readSafetensorsHeader(join(out, 'model.safetensors'));
    assert.deepEqual([...header.keys()].sort(), [...baseHeaders.keys()].sort());
    for (const [name, h] of header) assert.equal(h.dtype, baseHeaders.get(name)!.dtype, `${name} keeps the base's dtype`);
    // B·A in float32 as PEFT's matmul, added once and rounded to the base's dtype: the same bits.
    const ours = readSafetensors(join(out, 'model.safetensors'), { dtypes: ['F32', 'BF16', 'F16'] }).tensors;
    const peft = readSafetensors(join(adapter, 'peft_merged.safetensors'), { dtypes: ['F32', 'BF16', 'F16'] }).tensors;
    for (const [name, want] of peft) assert.deepEqual(ours.get(name)!.data, want.data, name);
    const gap = gapToPeft(await logits(out, ref.ids), ref.ids, ref.merged);
    assert.ok(gap < 1e-4, `${family}: merged folder vs PEFT's merge_and_unload ${gap}`);
  });
}

test('CLI on a PEFT adapter of a Qwen2 base: eval, next, generate; merge names the family; quantize of the merged folder reports its quality', () => {
  const adapter = join(ADAPTERS, 'qwen2');
  const base = join(BASES, 'qwen2');
  const text = join(root, 'short-ko.txt');
  writeFileSync(text, readFileSync(KOREAN, 'utf8').slice(0, 1500));
  const ok = (args: string[]) => {
    const r = runCli(args, root);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  assert.ok(JSON.parse(ok(['eval', adapter, text, '--base', base, '--backend', 'wasm', '--json'])).loss > 0);
  ok(['next', adapter, '--base', base, '--prompt', '대한민국은', '--backend', 'wasm', '--json']);
  ok(['generate', adapter, '--base', base, '--prompt', '대한민국은', '--max-tokens', '4', '--temperature', '0', '--backend', 'wasm']);
  const merged = join(root, 'cli-merged');
  assert.equal(JSON.parse(ok(['merge', adapter, '--base', base, '-o', merged, '--json'])).architecture, 'Qwen2ForCausalLM');
  const q = JSON.parse(ok(['quantize', merged, '-o', join(root, 'cli-int8'), '--text', text, '--backend', 'wasm', '--json']));
  assert.ok(q.loss_fp32 > 0 && Math.abs(q.loss_int8 - q.loss_fp32) < 0.05 * q.loss_fp32, JSON.stringify(q));
});

test('finetune --lora on a PEFT adapter trains that adapter further, on its own base with its own r, alpha, dropout and targets', () => {
  const adapter = join(ADAPTERS, 'qwen2');
  const base = join(BASES, 'qwen2');
  const text = join(root, 'continue-ko.txt');
  writeFileSync(text, readFileSync(KOREAN, 'utf8').slice(0, 3000));
  const run = join(root, 'continued');
  const args = ['finetune', adapter, text, '--base', base, '--lora', '--max-steps', '1', '--batch', '2', '--context', '32'];
  const r = runCli([...args, '--lr', '1e-12', '--backend', 'wasm', '-o', run, '--json'], root, 300_000);
  assert.equal(r.code, 0, r.stderr);
  const ckpt = join(run, 'checkpoints/step-00000001');
  const config = JSON.parse(readFileSync(join(ckpt, 'adapter_config.json'), 'utf8'));
  const theirs = JSON.parse(readFileSync(join(adapter, 'adapter_config.json'), 'utf8'));
  for (const key of ['r', 'lora_alpha', 'lora_dropout', 'use_rslora', 'fan_in_fan_out']) assert.equal(config[key], theirs[key], key);
  assert.equal(config.lora_dropout, 0.05);
  assert.deepEqual(config.target_modules, [...theirs.target_modules].sort());
  assert.equal(config.base_model_name_or_path, base, "the frozen base is the adapter's, not the adapter merged");
  // One step at lr 1e-12 moves nothing: training started from PEFT's A and B, not from B = 0.
  const before = readSafetensors(join(adapter, 'adapter_model.safetensors')).tensors;
  const after = readSafetensors(join(ckpt, 'adapter_model.safetensors')).tensors;
  assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
  for (const [name, t] of before) assert.ok(maxAbsDiff(after.get(name)!.data, t.data) < 1e-6, name);
  assert.match(
    runCli([...args, '--rank', '8', '-o', join(root, 'continued-r8')], root).stderr,
    /^corpus-lab: .*qwen2 is a LoRA adapter, trained further with its own r, lora_alpha, use_rslora, lora_dropout and target_modules: leave out --rank\n$/,
  );
});

test('--lora-dropout is a probability below 1, and like --rank only with --lora; refused in one line', () => {
  const base = join(BASES, 'qwen2');
  for (const [extra, re] of [
    [['--lora', '--lora-dropout', '1'], /--lora-dropout must be at least 0 and below 1 \(got 1\)/],
    [['--lora-dropout', '0.1'], /--rank, --alpha, --rslora, --lora-dropout and --targets set up LoRA: add --lora/],
  ] as const) {
    const r = runCli(['finetune', base, KOREAN, ...extra, '--max-steps', '1', '-o', join(root, 'refused')], root);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^corpus-lab: ${re.source}.*\\n$`));
  }
});

function randomAdapter(family: string, targets: string[], seed: number): LoraAdapter {
  const config = readModelFolder(join(BASES, family)).config;
  const rng = new Rng(seed);
  const shapes = loraModuleShapes(config);
  const layers = new Map<string, { a: HostTensor; b: HostTensor }>();
  for (const m of matchTargets(config, targets)) {
    const [inDim, outDim] = shapes.get(m)!;
    layers.set(m, { a: randomTensor([4, inDim], rng, 0.3), b: randomTensor([outDim, 4], rng, 0.3) });
  }
  return { settings: { r: 4, alpha: 6, rslora: true, targets, dropout: 0 }, layers };
}

test('adapters we write for Llama-family bases are nn.Linear LoRA in PEFT terms (fan_in_fan_out false, its key names)', () => {
  const adapter = randomAdapter('qwen2', ['all-linear'], 3);
  assert.equal(adapter.layers.size, 14, 'all-linear: the seven projections of both blocks');
  const files = adapterFiles(adapter, baseRecord(join(BASES, 'qwen2'), 'model.safetensors.index.json'));
  const config = JSON.parse(files['adapter_config.json'] as string);
  assert.equal(config.fan_in_fan_out, false);
  assert.equal(config.task_type, 'CAUSAL_LM');
  const dir = join(root, 'ours-qwen2');
  writeDirAtomic(dir, files);
  const keys = [...readSafetensorsHeader(join(dir, 'adapter_model.safetensors')).keys()];
  assert.ok(keys.includes('base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight'), keys.join(' '));
  assert.ok(keys.includes('base_model.model.model.layers.0.mlp.down_proj.lora_B.weight'), keys.join(' '));
});

// The real PEFT, where it is installed.
const PEFT_PYTHON = process.env.CORPUS_LAB_PEFT_PYTHON ?? 'python3';
const hasPeft = spawnSync(PEFT_PYTHON, ['-c', 'import peft, transformers, torch'], { encoding: 'utf8' }).status === 0;

function peftLogits(...args: string[]): Float32Array {
  const out = execFileSync(PEFT_PYTHON, [join(REPO, 'test/reference/peft_adapter.py'), ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return Float32Array.from((JSON.parse(out).logits as number[][]).flat());
}

const flat = (rows: Float32Array[]) => Float32Array.from(rows.flatMap((r) => [...r]));

test(
  'the real PEFT: finetune --lora of a Llama-family folder writes an adapter PeftModel.from_pretrained runs with our logits, and transformers loads its merge with them',
  { skip: !hasPeft && 'peft is not installed' },
  async (t) => {
    for (const family of ['llama', 'qwen2'] as const) {
      const base = join(BASES, family);
      const ids = reference(family).ids;
      const run = join(root, `ft-${family}`);
      const args = ['finetune', base, KOREAN, '--lora', '--rank', '4', '--alpha', '8', '--rslora', '--lora-dropout', '0.1', '--lr', '0.02'];
      const r = runCli([...args, '--max-steps', '3', '--batch', '2', '--context', '32', '--backend', 'wasm', '-o', run], root, 300_000);
      assert.equal(r.code, 0, r.stderr);
      const ckpt = join(run, 'checkpoints/step-00000003');
      const config = JSON.parse(readFileSync(join(ckpt, 'adapter_config.json'), 'utf8'));
      assert.deepEqual(config.target_modules, ['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj']);
      assert.equal(config.base_model_name_or_path, base);
      assert.deepEqual([config.r, config.lora_alpha, config.use_rslora, config.lora_dropout], [4, 8, true, 0.1]);
      const ours = await logits(ckpt, ids);
      assert.ok(maxAbsDiff(flat(ours), flat(await logits(base, ids))) > 1e-3, 'the trained adapter changes the logits');
      const d = maxAbsDiff(flat(ours), peftLogits('load', base, ckpt, JSON.stringify(ids)));
      assert.ok(d < 1e-4, `${family}: ours vs PEFT ${d}`);
      const merged = join(root, `ft-${family}-merged`);
      mergeAdapter(ckpt, merged, () => 'bpe');
      const m = maxAbsDiff(flat(await logits(merged, ids)), peftLogits('plain', merged, '-', JSON.stringify(ids)));
      assert.ok(m < 1e-4, `${family}: merged folder, ours vs transformers ${m}`);
      t.diagnostic(`${family}: max |logit ours − PEFT| = ${d.toExponential(2)}; merged, ours − transformers = ${m.toExponential(2)}`);
    }
  },
);
