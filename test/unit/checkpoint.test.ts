import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, mkdirSync, readdirSync, existsSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  listCheckpoints,
  pruneCheckpoints,
  readCheckpoint,
  resolveCheckpoint,
  writeCheckpoint,
  withZeroBiases,
  CheckpointContents,
} from '../../src/core/checkpoint';
import { weightShapes, parameterCount } from '../../src/core/weight-table';
import { writeDirAtomic, writeFileAtomic } from '../../src/core/atomic-write';
import { encodeSafetensors, readSafetensors } from '../../src/core/safetensors';
import { ModelConfig } from '../../src/core/model-config';
import { NamedTensors } from '../../src/core/tensor';
import { isUserError } from '../../src/core/errors';
import { createRunDir, safeName } from '../../src/core/run-dir';
import { trainTokenizer } from '../../src/core/tokenizer';
import { startEngine, tf } from '../../src/worker/engine/backend';
import { Gpt } from '../../src/worker/model/gpt';
import { userError } from './helpers';
import { EMBED_SCALE } from '../../src/core/dyt';
import { toGpt2ConfigJson } from '../../src/core/gpt2-config';

const config: ModelConfig = { vocabSize: 13, context: 8, layers: 2, heads: 2, width: 8, norm: 'layernorm', dropout: 0, bias: true };
const root = mkdtempSync(join(tmpdir(), 'corpus-lab-ckpt-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

function weightsFor(c: ModelConfig, fill = 0.5): NamedTensors {
  const out: NamedTensors = new Map();
  for (const [name, shape] of weightShapes(c))
    out.set(name, { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill) });
  return out;
}

function contents(step: number, c: ModelConfig = config): CheckpointContents {
  const weights = weightsFor(c);
  const optimizer: NamedTensors = new Map();
  for (const [name, t] of weights) {
    optimizer.set(`m.${name}`, t);
    optimizer.set(`v.${name}`, t);
  }
  return {
    config: c,
    weights,
    optimizer,
    trainerState: { step, epoch: 0, cursor: step, seed: 1, best_val_loss: null, rng: {} },
    tokenizerJson: trainTokenizer('abcdefghijkl', { kind: 'char' }).toJSON(), // 13 tokens with <unk>, as config.vocabSize
  };
}

test('expected weight shapes add up to the exact parameter count (layernorm and dyt)', () => {
  for (const norm of ['layernorm', 'dyt'] as const) {
    const c = { ...config, norm };
    let n = 0;
    for (const shape of weightShapes(c).values()) n += shape.reduce((a, b) => a * b, 1);
    assert.equal(n, parameterCount(c));
  }
});

test('write → read round trip; a run folder resolves to its newest checkpoint by step', () => {
  const run = join(root, 'run1');
  writeCheckpoint(run, 'epoch-0001', contents(10));
  writeCheckpoint(run, 'step-00000015', contents(15));
  writeCheckpoint(run, 'epoch-0002', contents(20));
  assert.deepEqual(
    listCheckpoints(run).map((c) => c.step),
    [10, 15, 20],
  );
  assert.equal(resolveCheckpoint(run), join(run, 'checkpoints', 'epoch-0002'));
  const ck = readCheckpoint(resolveCheckpoint(run), { withOptimizer: true });
  assert.deepEqual(ck.config, config);
  assert.equal(ck.trainerState.step, 20);
  assert.equal(ck.weights.get('transformer.wte.weight')!.data[0], 0.5);
  assert.equal(ck.optimizer!.size, 2 * ck.weights.size);
  const cfg = JSON.parse(readFileSync(join(run, 'checkpoints', 'epoch-0002', 'config.json'), 'utf8'));
  assert.equal(cfg.model_type, 'gpt2');
  assert.deepEqual(cfg.architectures, ['GPT2LMHeadModel']);
  assert.equal(cfg.n_embd, 8);
  assert.equal(cfg.activation_function, 'gelu_new');
  pruneCheckpoints(run, 2, ['epoch-0001']);
  assert.deepEqual(readdirSync(join(run, 'checkpoints')).sort(), ['epoch-0001', 'epoch-0002', 'step-00000015']);
  pruneCheckpoints(run, 1, []);
  assert.deepEqual(readdirSync(join(run, 'checkpoints')), ['epoch-0002']);
});

test('a Dynamic Tanh checkpoint is not a GPT-2 one: its own model_type and keys; one from before the embedding scale still loads, at scale 1', () => {
  const dyt: ModelConfig = { ...config, norm: 'dyt' };
  const dir = writeCheckpoint(join(root, 'dyt'), 'epoch-0001', contents(1, dyt));
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.equal(cfg.model_type, 'corpus-lab-gpt2-dyt');
  assert.deepEqual(cfg.architectures, ['CorpusLabGpt2DytForCausalLM']);
  // No GPT-2 shape keys: GPT2LMHeadModel would build its default shape, which the weights do not fit.
  for (const key of ['n_embd', 'n_layer', 'n_head', 'n_positions', 'hidden_size']) assert.equal(cfg[key], undefined, key);
  assert.deepEqual([cfg.width, cfg.layers, cfg.heads, cfg.context], [8, 2, 2, 8]);
  const ck = readCheckpoint(dir, { withOptimizer: true });
  assert.deepEqual(ck.config, dyt);
  assert.deepEqual(ck.weights.get(EMBED_SCALE), { shape: [1], data: Float32Array.of(0.5) });

  // Before the scale, a DyT checkpoint said model_type gpt2 (corpus_lab.norm dyt) and had no such tensor.
  const old = { ...JSON.parse(toGpt2ConfigJson(config, { tokenizer_kind: 'char' })), corpus_lab: { ...cfg.corpus_lab } };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(old));
  const without = (file: string, names: string[]) => {
    const tensors = readSafetensors(join(dir, file)).tensors;
    for (const n of names) tensors.delete(n);
    writeFileSync(join(dir, file), encodeSafetensors(tensors));
  };
  without('model.safetensors', [EMBED_SCALE]);
  without('optimizer.safetensors', [`m.${EMBED_SCALE}`, `v.${EMBED_SCALE}`]);
  const legacy = readCheckpoint(dir, { withOptimizer: true });
  assert.deepEqual(legacy.config, dyt);
  assert.deepEqual(legacy.weights.get(EMBED_SCALE), { shape: [1], data: Float32Array.of(1) });
  assert.deepEqual(legacy.optimizer!.get(`v.${EMBED_SCALE}`), { shape: [1], data: Float32Array.of(0) });

  // A current one without the scale is damaged, and the type says the norm.
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  assert.throws(() => readCheckpoint(dir, { withOptimizer: false }), userError(/missing 1 tensor.*transformer\.embed_scale/));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, corpus_lab: { ...cfg.corpus_lab, norm: 'layernorm' } }));
  assert.throws(() => readCheckpoint(dir, { withOptimizer: false }), userError(/corpus_lab\.norm is "layernorm", but model_type/));
});

test('incomplete and temporary folders are never taken for checkpoints', () => {
  const run = join(root, 'run2');
  writeCheckpoint(run, 'epoch-0001', contents(5));
  mkdirSync(join(run, 'checkpoints', '.epoch-0002.tmp-1-abc'));
  writeFileSync(join(run, 'checkpoints', '.epoch-0002.tmp-1-abc', 'trainer_state.json'), '{"step": 99}');
  writeCheckpoint(run, 'epoch-0003', contents(30));
  unlinkSync(join(run, 'checkpoints', 'epoch-0003', 'optimizer.safetensors'));
  assert.equal(resolveCheckpoint(run), join(run, 'checkpoints', 'epoch-0001'));
  assert.throws(() => resolveCheckpoint(join(root, 'nowhere')), userError(/no such run or checkpoint folder/));
  mkdirSync(join(root, 'emptyrun'));
  assert.throws(() => resolveCheckpoint(join(root, 'emptyrun')), userError(/has no checkpoints yet/));
  assert.throws(
    () => readCheckpoint(join(run, 'checkpoints', 'epoch-0003'), { withOptimizer: true }),
    userError(/optimizer.safetensors is missing/),
  );
});

test('weights that do not fit the config are refused, naming the tensor', () => {
  const run = join(root, 'run3');
  const dir = writeCheckpoint(run, 'epoch-0001', contents(1));
  const model = join(dir, 'model.safetensors');
  const w = weightsFor(config);
  w.delete('transformer.h.1.mlp.c_fc.bias');
  writeFileSync(model, encodeSafetensors(w));
  assert.throws(() => readCheckpoint(dir, { withOptimizer: false }), userError(/missing 1 tensor.*transformer\.h\.1\.mlp\.c_fc\.bias/));
  const extra = weightsFor(config);
  extra.set('lm_head.weight', { shape: [1], data: new Float32Array(1) });
  writeFileSync(model, encodeSafetensors(extra));
  assert.throws(() => readCheckpoint(dir, { withOptimizer: false }), userError(/unexpected tensor.*lm_head\.weight/));
  const wrong = weightsFor({ ...config, width: 10, heads: 2 });
  writeFileSync(model, encodeSafetensors(wrong));
  assert.throws(
    () => readCheckpoint(dir, { withOptimizer: false }),
    userError(/transformer\.wte\.weight has shape \[13, 10\] but the config needs \[13, 8\]/),
  );
  writeFileSync(model, encodeSafetensors(weightsFor(config)).subarray(0, 100));
  assert.throws(() => readCheckpoint(dir, { withOptimizer: false }), userError(/model\.safetensors/));
});

test('malformed config.json and trainer_state.json are refused with the field named', () => {
  const dir = writeCheckpoint(join(root, 'run4'), 'epoch-0001', contents(1));
  const cfgPath = join(dir, 'config.json');
  const good = readFileSync(cfgPath, 'utf8');
  for (const [text, re] of [
    ['{', /config\.json: not valid JSON/],
    ['[]', /not a JSON object/],
    [good.replace('"gpt2"', '"gemma"'), /model_type is "gemma"/],
    // Read as a Llama config.json, a GPT-2 one that says llama names the class it would need.
    [good.replace('"gpt2"', '"llama"'), /architectures \["GPT2LMHeadModel"\] is not supported \(a llama model is LlamaForCausalLM\)$/],
    [good.replace('"n_embd": 8', '"n_embd": "8"'), /n_embd must be a whole number/],
    [good.replace('"n_head": 2', '"n_head": 3'), /divisible by heads/],
  ] as const) {
    writeFileSync(cfgPath, text);
    assert.throws(() => readCheckpoint(dir, { withOptimizer: false }), userError(re), String(re));
  }
  writeFileSync(cfgPath, good);
  writeFileSync(join(dir, 'trainer_state.json'), '{"step": -1, "epoch": 0, "cursor": 0, "seed": 1, "best_val_loss": null}');
  assert.throws(() => readCheckpoint(dir, { withOptimizer: false }), userError(/step must be a whole number/));
});

test('a failed atomic write leaves neither the target nor a temporary behind', () => {
  const blocker = join(root, 'blocker');
  writeFileSync(blocker, 'a file, not a folder');
  assert.throws(() => writeDirAtomic(join(blocker, 'ckpt'), { a: 'x' }), userError(/a part of that path is a file/));
  assert.throws(() => writeFileAtomic(join(blocker, 'f.txt'), 'x'), userError(/a part of that path is a file/));
  const parent = join(root, 'p');
  mkdirSync(parent);
  // A file whose contents cannot be produced midway through the folder.
  const files = Object.defineProperty({ a: 'x' }, 'b', {
    enumerable: true,
    get: () => {
      throw new Error('disk on fire');
    },
  }) as Record<string, string>;
  assert.throws(() => writeDirAtomic(join(parent, 'ckpt'), files), /disk on fire/);
  assert.deepEqual(readdirSync(parent), []);
  writeFileAtomic(join(parent, 'f.txt'), 'one');
  writeFileAtomic(join(parent, 'f.txt'), 'two');
  assert.equal(readFileSync(join(parent, 'f.txt'), 'utf8'), 'two');
  assert.deepEqual(readdirSync(parent), ['f.txt']);
});

test('run folders: timestamped, unique, Korean names kept', () => {
  const now = new Date(2026, 10, 24, 9, 5, 7);
  const a = createRunDir(join(root, 'runs'), '/x/대한민국 헌법.txt', undefined, now);
  const b = createRunDir(join(root, 'runs'), '/x/대한민국 헌법.txt', undefined, now);
  assert.match(a, /20261124-090507-대한민국-헌법$/);
  assert.match(b, /20261124-090507-대한민국-헌법-2$/);
  assert.equal(safeName('../../etc/passwd'), 'passwd');
  assert.equal(safeName('***.txt'), 'corpus');
});

test('Hugging Face GPT-2 semantics: a PyTorch reader of our files gives the same logits', async (t) => {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch, numpy'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    t.skip('PyTorch is not installed (apt-get install python3-torch python3-numpy); .ci/run installs it');
    return;
  }
  await startEngine('wasm');
  // A model without biases is written with zero ones, and must read the same in PyTorch.
  for (const bias of [true, false]) {
    const c: ModelConfig = { vocabSize: 21, context: 16, layers: 2, heads: 4, width: 32, norm: 'layernorm', dropout: 0, bias };
    const model = Gpt.initialise(c, 11);
    // Move weights off their initial values (zero biases, unit norms) so every term is exercised.
    for (const v of model.params.values()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.05, 'float32', 5)));
    const weights = await model.weights();
    const optimizer: NamedTensors = new Map(
      [...weights].flatMap(
        ([n, w]) =>
          [
            [`m.${n}`, w],
            [`v.${n}`, w],
          ] as const,
      ),
    );
    const dir = writeCheckpoint(join(root, `hf-${bias}`), 'epoch-0001', {
      config: c,
      weights,
      optimizer,
      trainerState: { step: 1, epoch: 1, cursor: 0, seed: 1, best_val_loss: null, rng: {} },
      tokenizerJson: trainTokenizer('abcdefghijklmnopqrst', { kind: 'char' }).toJSON(),
    });
    const ids = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3];
    const ours = await model.forward(tf.tensor2d(ids, [1, ids.length], 'int32')).data();
    const out = execFileSync('/usr/bin/python3', [join(__dirname, '../../../test/reference/gpt2_logits.py'), dir, JSON.stringify(ids)], {
      encoding: 'utf8',
    });
    const theirs = (JSON.parse(out).logits as number[][]).flat();
    assert.equal(theirs.length, ours.length);
    let maxDiff = 0;
    for (let i = 0; i < ours.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ours[i] - theirs[i]));
    assert.ok(maxDiff < 1e-4, `max logit difference ${maxDiff}`);
    model.dispose();
    assert.ok(existsSync(join(dir, 'tokenizer.json')));
  }
});

test('a model without biases: none in the weight table, zeros in the file, refused if the file has non-zero ones', () => {
  const c: ModelConfig = { ...config, bias: false };
  const names = [...weightShapes(c).keys()];
  assert.ok(!names.some((n) => n.endsWith('.bias')), names.join(','));
  const w = config.width;
  assert.equal(parameterCount(config) - parameterCount(c), config.layers * (3 * w + w + 4 * w + w + 2 * w) + w);
  const dir = writeCheckpoint(join(root, 'nobias'), 'epoch-0001', contents(1, c));
  const file = readSafetensors(join(dir, 'model.safetensors')).tensors;
  assert.deepEqual([...file.get('transformer.h.0.attn.c_attn.bias')!.data], new Array(3 * w).fill(0));
  assert.ok(file.has('transformer.ln_f.bias'));
  const back = readCheckpoint(dir, { withOptimizer: true });
  assert.equal(back.config.bias, false);
  assert.deepEqual([...back.weights.keys()].sort(), [...names].sort());
  file.get('transformer.ln_f.bias')!.data[3] = 0.25;
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(file, { format: 'pt' }));
  assert.throws(
    () => readCheckpoint(dir, { withOptimizer: false }),
    (e: unknown) =>
      isUserError(e) && /transformer\.ln_f\.bias is not zero, but config\.json says the model has no biases/.test((e as Error).message),
  );
});

test("a GPT-2 model without biases is written with zero ones; a Llama-family model's weights are written as they are", () => {
  const noBias = { ...config, bias: false };
  const gpt2 = withZeroBiases(noBias, weightsFor(noBias));
  assert.ok(gpt2.has('transformer.h.0.attn.c_attn.bias') && gpt2.get('transformer.h.0.attn.c_attn.bias')!.data.every((v) => v === 0));
  const llama: ModelConfig = {
    ...noBias,
    norm: 'rmsnorm',
    llama: {
      family: 'qwen2',
      kvHeads: 1,
      headDim: 4,
      mlpWidth: 16,
      ropeTheta: 10_000,
      qkvBias: true,
      qkNorm: false,
      tiedHead: true,
      normEps: 1e-6,
    },
  };
  const weights = weightsFor(llama);
  assert.equal(withZeroBiases(llama, weights), weights, 'not gone through the GPT-2 table');
});
