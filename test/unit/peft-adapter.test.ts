import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { ModelConfig } from '../../src/core/model-config';
import { HostTensor } from '../../src/core/tensor';
import { Rng } from '../../src/core/rng';
import { trainTokenizer } from '../../src/core/tokenizer';
import { readModelFolder, recordAdapterBase, modelTokenizerFile } from '../../src/core/model-folder';
import {
  ADAPTER_BASE_FILE,
  LoraAdapter,
  adapterFiles,
  baseRecord,
  loraModuleShapes,
  matchTargets,
  mergeLora,
} from '../../src/core/lora-adapter';
import { mergeAdapter } from '../../src/core/export-folder';
import { writeDirAtomic } from '../../src/core/atomic-write';
import { loadModel } from '../../src/worker/jobs/load-model';
import { tf } from '../../src/worker/engine/backend';
import { randomTensor, randomWeights, writeGpt2Folder } from '../gpt2-folder';
import { writePeftAdapter } from '../peft-adapter-folder';
import { CLI, ENGLISH, KOREAN, REPO, maxAbsDiff, smallModelConfig, tempDir, userError } from './helpers';

// Adapters made by PEFT itself (no adapter_base.json): the base from base_model_name_or_path when it
// is a folder here, else the one the user names (--base); shapes checked; PEFT's config respected.
const root = tempDir('corpus-lab-peft-');
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

const bpe = trainTokenizer(readFileSync(KOREAN, 'utf8').slice(0, 5000) + readFileSync(ENGLISH, 'utf8').slice(0, 5000), {
  kind: 'bpe',
  vocabSize: 300,
});
const config = smallModelConfig(bpe.vocabSize);
const base = writeGpt2Folder(join(root, 'base'), config, randomWeights(config, 1), bpe.toJSON());
const ids = bpe.encode('대한민국은 민주공화국 to be or').slice(0, config.context);

function randomAdapter(targets: string[], seed: number, layers?: number[]): LoraAdapter {
  const rng = new Rng(seed);
  const shapes = loraModuleShapes(config);
  const out = new Map<string, { a: HostTensor; b: HostTensor }>();
  for (const m of matchTargets(config, targets, layers)) {
    const [inDim, outDim] = shapes.get(m)!;
    out.set(m, { a: randomTensor([4, inDim], rng, 0.3), b: randomTensor([outDim, 4], rng, 0.3) });
  }
  return { settings: { r: 4, alpha: 6, rslora: true, targets, dropout: 0, ...(layers ? { layers } : {}) }, layers: out };
}

async function ourLogits(path: string, baseDir?: string): Promise<Float32Array> {
  const loaded = await loadModel(path, 'wasm', baseDir);
  try {
    const t = loaded.model.forward(tf.tensor2d(ids, [1, ids.length], 'int32'));
    const out = (await t.data()) as Float32Array;
    t.dispose();
    return out;
  } finally {
    loaded.model.dispose();
  }
}

const adapter = randomAdapter(['c_attn', 'c_proj', 'c_fc'], 2);
const ours = join(root, 'ours');
writeDirAtomic(ours, adapterFiles(adapter, baseRecord(base, 'model.safetensors')));

test("PEFT's own adapter loads onto the folder its base_model_name_or_path names (absolute, or relative to the current directory) and equals ours", async () => {
  const expected = await ourLogits(ours);
  assert.ok(maxAbsDiff(expected, await ourLogits(base)) > 0.01, 'the adapter changes the logits');
  for (const [name, baseName] of [
    ['peft-absolute', base],
    ['peft-relative', relative(process.cwd(), base)],
  ]) {
    const dir = writePeftAdapter(join(root, name), adapter, baseName);
    assert.ok(!existsSync(join(dir, ADAPTER_BASE_FILE)));
    const m = readModelFolder(dir);
    assert.equal(m.kind, 'adapter');
    assert.equal(m.base!.dir, base);
    assert.equal(modelTokenizerFile(dir), join(base, 'tokenizer.json'));
    assert.equal(maxAbsDiff(await ourLogits(dir), expected), 0, name);
  }
});

test('a PEFT adapter whose base is a Hub id (or not recorded) asks for the base; given, it loads, is merged, and may be recorded', async () => {
  const expected = await ourLogits(ours);
  for (const [name, baseName] of [
    ['peft-hub', 'openai-community/gpt2'],
    ['peft-in-memory', null],
  ] as const) {
    const dir = writePeftAdapter(join(root, name), adapter, baseName);
    assert.throws(
      () => readModelFolder(dir),
      userError(new RegExp(`does not record its base model \\(adapter_config\\.json names ${JSON.stringify(baseName)}.*\\(--base DIR\\)$`)),
    );
    assert.throws(() => modelTokenizerFile(dir), userError(/does not record its base model/));
    assert.equal(maxAbsDiff(await ourLogits(dir, base), expected), 0, name);
    assert.equal(modelTokenizerFile(dir, base), join(base, 'tokenizer.json'));
  }
  const dir = join(root, 'peft-hub');
  const out = join(root, 'peft-hub-merged');
  assert.equal(mergeAdapter(dir, out, () => 'bpe', base).base, base);
  assert.equal(maxAbsDiff(await ourLogits(out), expected), 0);
  assert.throws(() => readModelFolder(dir, join(root, 'nowhere')), userError(/nowhere, given as the base model, is not a folder/));
  assert.throws(() => readModelFolder(base, base), userError(/is not a LoRA adapter, so it takes no base model/));
  // The extension's pick: the base is recorded once (with its sha256), and later changes are noticed.
  recordAdapterBase(dir, base);
  assert.equal(JSON.parse(readFileSync(join(dir, ADAPTER_BASE_FILE), 'utf8')).path, base);
  assert.equal(maxAbsDiff(await ourLogits(dir), expected), 0);
});

test('a base that does not fit is refused in one line naming it; a moved base of one of ours can be named again', () => {
  const wide: ModelConfig = { ...config, width: 64 };
  const other = writeGpt2Folder(join(root, 'base-wide'), wide, randomWeights(wide, 3), bpe.toJSON());
  const dir = writePeftAdapter(join(root, 'peft-misfit'), adapter, 'gpt2');
  assert.throws(
    () => readModelFolder(dir, other),
    userError(/peft-misfit does not fit the base model .*base-wide: .*lora_A\.weight has shape \[4, 32\] but the config needs \[4, 64\]$/),
  );
  const deeper = writePeftAdapter(join(root, 'peft-deeper'), adapter, base);
  const three: ModelConfig = { ...config, layers: 1 };
  const shallow = writeGpt2Folder(join(root, 'base-shallow'), three, randomWeights(three, 4), bpe.toJSON());
  assert.throws(() => readModelFolder(deeper, shallow), userError(/does not fit the base model .*unexpected tensor.*transformer\.h\.1\./));
  // Ours records the base's sha256: a copy elsewhere is accepted, another model is not.
  const moved = join(root, 'base-moved');
  cpSync(base, moved, { recursive: true });
  assert.equal(readModelFolder(ours, moved).base!.dir, moved);
  assert.throws(() => readModelFolder(ours, other), userError(/the base model has changed since the adapter was trained/));
});

test("PEFT's config is respected: fan_in_fan_out either way, layers_to_transform; what it cannot apply is refused", () => {
  const full = mergeLora(readModelFolder(base).weights, adapter);
  const same = (dir: string) => {
    const m = readModelFolder(dir);
    for (const [n, w] of full) assert.deepEqual(m.weights.get(n)!.data, w.data, n);
  };
  // PEFT sets fan_in_fan_out for GPT-2's Conv1D whatever the config says.
  same(writePeftAdapter(join(root, 'peft-fifo-false'), adapter, base, { fan_in_fan_out: false }));
  same(
    writePeftAdapter(join(root, 'peft-empty-lists'), adapter, base, { modules_to_save: [], layers_to_transform: [], exclude_modules: [] }),
  );
  const second = randomAdapter(['c_attn', 'mlp.c_fc'], 5, [1]);
  for (const [name, extra] of [
    ['peft-layers', {}],
    ['peft-layers-int', { layers_to_transform: 1, layers_pattern: 'h' }],
  ] as const) {
    const m = readModelFolder(writePeftAdapter(join(root, name), second, base, extra));
    const want = mergeLora(readModelFolder(base).weights, second);
    for (const [n, w] of want) assert.deepEqual(m.weights.get(n)!.data, w.data, n);
    assert.equal(second.layers.size, 2, 'only block 1');
  }
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ bias: 'lora_only' }, /bias "lora_only" is not supported/],
    [{ modules_to_save: ['lm_head'] }, /modules_to_save \["lm_head"\] is not supported/],
    [{ lora_bias: true }, /lora_bias is set: Corpus Lab applies plain LoRA adapters only/],
    [{ exclude_modules: ['h.0.attn.c_attn'] }, /exclude_modules is set/],
    [{ alora_invocation_tokens: [5, 6] }, /alora_invocation_tokens is set/],
    [{ layer_replication: [[0, 2]] }, /layer_replication is set/],
    [{ layers_to_transform: [5] }, /layers_to_transform names block 5, but the base model has 2 blocks/],
    [{ layers_to_transform: ['1'] }, /layers_to_transform must be a block index or a list of them/],
    [
      { layers_to_transform: [1], layers_pattern: 'layers' },
      /layers_pattern "layers" names no list of blocks of this model \(its blocks are "h"\)/,
    ],
    [{ layers_to_transform: [0] }, /unexpected tensor.*transformer\.h\.1\./],
  ];
  for (const [extra, re] of cases) {
    const dir = writePeftAdapter(join(root, 'peft-refused'), adapter, base, extra);
    assert.throws(() => readModelFolder(dir), userError(re), String(re));
    rmSync(dir, { recursive: true });
  }
});

test('CLI: --base on eval, next, merge, quantize and finetune; without it, one line naming the flag, exit 2', () => {
  const dir = writePeftAdapter(join(root, 'peft-cli'), adapter, 'openai-community/gpt2');
  const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  const refused = cli(['eval', dir, ENGLISH, '--backend', 'wasm']);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /^corpus-lab: .*peft-cli does not record its base model .*\(--base DIR\)\n$/);
  const ok = cli(['eval', dir, ENGLISH, '--base', base, '--backend', 'wasm', '--json']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.ok(JSON.parse(ok.stdout).loss > 0);
  const next = cli(['next', dir, '--prompt', 'to be', '--base', 'base', '--backend', 'wasm', '--json']);
  assert.equal(next.status, 0, next.stderr);
  assert.equal(cli(['merge', dir, '-o', join(root, 'cli-merged'), '--base', base]).status, 0);
  const quantize = cli(['quantize', dir, '-o', join(root, 'cli-int8'), '--text', ENGLISH, '--base', base, '--backend', 'wasm', '--json']);
  assert.equal(quantize.status, 0, quantize.stderr);
  const finetune = cli([
    'finetune',
    dir,
    ENGLISH,
    '--base',
    base,
    '--max-steps',
    '2',
    '--batch',
    '2',
    '-o',
    join(root, 'cli-ft'),
    '--backend',
    'wasm',
    '--json',
  ]);
  assert.equal(finetune.status, 0, finetune.stderr);
  assert.match(cli(['finetune', dir, ENGLISH, '--max-steps', '2', '-o', join(root, 'cli-ft2')]).stderr, /does not record its base model/);
  const notAdapter = cli(['next', base, '--prompt', 'to be', '--base', base]);
  assert.equal(notAdapter.status, 2);
  assert.match(notAdapter.stderr, /^corpus-lab: .* is not a LoRA adapter, so it takes no base model \(--base\)\n$/);
});

// The real PEFT, where it is installed (CORPUS_LAB_PEFT_PYTHON names a Python with torch, transformers and peft).
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

test(
  'the real PEFT: an adapter it makes loads here with its logits, and PEFT reads the fixture as we do',
  { skip: !hasPeft && 'peft is not installed' },
  async (t) => {
    for (const [name, lora] of [
      ['made-by-peft', { r: 4, lora_alpha: 6, use_rslora: true, target_modules: ['c_attn', 'c_proj', 'c_fc'] }],
      ['made-by-peft-layers', { r: 2, lora_alpha: 5, target_modules: ['c_attn', 'mlp.c_proj'], layers_to_transform: [1] }],
    ] as const) {
      const dir = join(root, name);
      const theirs = peftLogits('make', base, dir, JSON.stringify(ids), JSON.stringify(lora));
      assert.ok(!existsSync(join(dir, ADAPTER_BASE_FILE)));
      const d = maxAbsDiff(await ourLogits(dir), theirs);
      assert.ok(d < 1e-4, `${name}: ours vs PEFT ${d}`);
      t.diagnostic(`${name}: max |logit ours − PEFT| = ${d.toExponential(2)}`);
    }
    const fixture = writePeftAdapter(join(root, 'fixture-for-peft'), adapter, base);
    const d = maxAbsDiff(await ourLogits(fixture), peftLogits('load', base, fixture, JSON.stringify(ids)));
    assert.ok(d < 1e-4, `fixture: ours vs PEFT ${d}`);
    t.diagnostic(`fixture loaded by PEFT: max |logit ours − PEFT| = ${d.toExponential(2)}`);
  },
);
