import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../../src/worker/engine/backend';
import { loadModel } from '../../src/worker/jobs/load-model';
import { documentSurprisal } from '../../src/worker/jobs/surprisal-job';
import { runEstimateJob } from '../../src/worker/jobs/estimate-job';
import { readModelFolder } from '../../src/core/model-folder';
import { resolveCheckpoint } from '../../src/core/checkpoint';
import { adapterConfigJson } from '../../src/core/lora-adapter';
import { extendEmbedding } from '../../src/core/finetune';
import { encodeSafetensors } from '../../src/core/safetensors';
import { ENGLISH, KOREAN, REPO, assertCliUserError, runCli, tempDir } from './helpers';

// Every CLI command that takes a model, on Llama-family models: folders transformers wrote
// (test/fixtures/hf-llama, with transformers' log-probabilities in reference.json) and a
// `train --arch llama` run.
const FIXTURES = join(REPO, 'test/fixtures/hf-llama');
const FAMILIES = ['llama', 'mistral', 'qwen2', 'qwen3'] as const;

interface Reference {
  prompt: string;
  ids: number[];
  positions: { top_ids: number[]; top_logprobs: number[]; next_logprob?: number }[];
  loss: number;
}
const reference = (family: string) => JSON.parse(readFileSync(join(FIXTURES, family, 'reference.json'), 'utf8')) as Reference;

const work = tempDir();
const run = join(work, 'llama-run');

before(() => {
  const r = runCli(
    ['train', KOREAN, '--arch', 'llama', '--layers', '2', '--heads', '4', '--width', '32', '--context', '32', '--batch', '4'].concat([
      '--max-steps',
      '6',
      '--backend',
      'wasm',
      '--seed',
      '5',
      '--json',
      '-o',
      run,
    ]),
    work,
    300_000,
  );
  assert.equal(r.code, 0, r.stderr);
});

function cliJson(args: string[]) {
  const r = runCli([...args, '--json'], work);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

for (const family of FAMILIES) {
  const dir = join(FIXTURES, family);
  const ref = reference(family);

  test(`${family}: eval gives transformers' loss (1e-4 relative) over every token, and its bits per character`, () => {
    const text = join(work, `${family}.txt`);
    writeFileSync(text, ref.prompt);
    const e = cliJson(['eval', dir, text]);
    assert.equal(e.tokens, ref.ids.length - 1);
    assert.ok(Math.abs(e.loss - ref.loss) / ref.loss < 1e-4, `loss ${e.loss}, transformers ${ref.loss}`);
    assert.ok(Math.abs(e.bits_per_char - (e.loss * e.tokens) / e.chars / Math.LN2) < 1e-9);
  });

  test(`${family}: generate (greedy) starts with transformers' most likely next token, and completes`, () => {
    const { tokenizer } = readModelFolder(dir);
    const last = ref.positions[ref.ids.length - 1];
    const g = cliJson(['generate', dir, '--prompt', ref.prompt, '--temperature', '0', '--max-tokens', '6']);
    assert.equal(g.tokens, 6);
    assert.equal(g.stopped_by, 'max-tokens');
    const first = cliJson(['generate', dir, '--prompt', ref.prompt, '--temperature', '0', '--max-tokens', '1']);
    const again = cliJson(['next', dir, '--prompt', ref.prompt, '--top-k', '1']);
    assert.equal(again.candidates[0].id, last.top_ids[0]);
    assert.ok(g.text.startsWith(first.text));
    assert.equal(first.text, tokenizer.decode([last.top_ids[0]]));
  });

  test(`${family}: surprisal scores every token with transformers' bits (within 1e-4 nats) and its rank`, async () => {
    const loaded = await loadModel(dir);
    try {
      const s = await documentSurprisal(loaded, ref.prompt);
      assert.equal(s.scored.length, ref.ids.length - 1);
      s.scored.forEach((t, i) => {
        const p = ref.positions[i];
        assert.equal(t.id, ref.ids[i + 1]);
        assert.ok(Math.abs(t.bits * Math.LN2 + p.next_logprob!) < 1e-4, `token ${i + 1}: ${t.bits * Math.LN2} vs ${-p.next_logprob!}`);
        if (t.rank <= p.top_ids.length) assert.equal(p.top_ids[t.rank - 1], t.id, `token ${i + 1} rank ${t.rank}`);
      });
    } finally {
      loaded.model.dispose();
    }
  });
}

/** The logit lens by hand: the residual stream's last row through the final RMSNorm and the head, softmaxed (float64). */
function lensByHand(dir: string, hidden: Float32Array[]): Float64Array[] {
  const m = readModelFolder(dir);
  const { width, vocabSize, llama } = m.config;
  const g = m.weights.get('model.norm.weight')!.data;
  const head = (m.weights.get('lm_head.weight') ?? m.weights.get('model.embed_tokens.weight')!).data;
  return hidden.map((x) => {
    let ms = 0;
    for (const v of x) ms += v * v;
    const r = 1 / Math.sqrt(ms / width + llama!.normEps);
    const logits = new Float64Array(vocabSize);
    for (let t = 0; t < vocabSize; t++) for (let i = 0; i < width; i++) logits[t] += head[t * width + i] * x[i] * r * g[i];
    const max = Math.max(...logits);
    const sum = logits.reduce((a, v) => a + Math.exp(v - max), 0);
    return logits.map((v) => Math.exp(v - max) / sum);
  });
}

for (const family of ['llama', 'qwen2'] as const) {
  test(`${family}: next --lens reads each layer through the final RMSNorm and the head; its last layer is transformers' distribution`, async () => {
    const dir = join(FIXTURES, family);
    const ref = reference(family);
    const n = cliJson(['next', dir, '--prompt', ref.prompt, '--lens']);
    const loaded = await loadModel(dir, 'wasm');
    const hidden: tf.Tensor2D[] = [];
    let rows: Float32Array[];
    try {
      tf.dispose(loaded.model.forward(tf.tensor2d(ref.ids, [1, ref.ids.length], 'int32'), { inspect: { hidden } }));
      rows = await Promise.all(hidden.map(async (h) => ((await h.data()) as Float32Array).slice(-loaded.model.config.width)));
    } finally {
      tf.dispose(hidden);
      loaded.model.dispose();
    }
    const byHand = lensByHand(dir, rows);
    assert.equal(n.lens.length, loaded.model.config.layers + 1);
    n.lens.forEach((row: { id: number; prob: number }[], layer: number) => {
      const probs = byHand[layer];
      assert.equal(row[0].prob, Math.max(...row.map((c) => c.prob)));
      assert.ok(probs[row[0].id] >= Math.max(...probs) - 1e-5, `layer ${layer}: top ${row[0].id}`);
      for (const c of row) assert.ok(Math.abs(c.prob - probs[c.id]) < 1e-4, `layer ${layer} id ${c.id}: ${c.prob} vs ${probs[c.id]}`);
    });
    const last = ref.positions[ref.ids.length - 1];
    n.lens.at(-1).forEach((c: { id: number; prob: number }, k: number) => {
      assert.equal(c.id, last.top_ids[k]);
      assert.ok(Math.abs(c.prob - Math.exp(last.top_logprobs[k])) < 1e-4);
    });
  });
}

test('attention: every query head of a grouped-query model, with the key/value head each reads and the group size', () => {
  const ref = reference('qwen2');
  const a = cliJson(['attention', join(FIXTURES, 'qwen2'), '--prompt', ref.prompt]);
  assert.equal(a.kv_heads, 2);
  assert.equal(a.group_size, 2);
  assert.deepEqual(a.kv_head_of_head, [0, 0, 1, 1]);
  assert.equal(a.attention.length, 2);
  for (const layer of a.attention) {
    assert.equal(layer.length, 4);
    for (const head of layer)
      head.forEach((row: number[], q: number) => {
        assert.ok(Math.abs(row.reduce((s, w) => s + w, 0) - 1) < 1e-5);
        assert.ok(
          row.slice(q + 1).every((w) => w === 0),
          'a query looks at a later token',
        );
      });
  }
  const text = runCli(['attention', join(FIXTURES, 'qwen2'), '--prompt', 'Hello there'], work);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^layer 1 head 3 \(kv 1\): /m);
  const runMaps = cliJson(['attention', run, '--prompt', '대한민국']);
  assert.deepEqual([runMaps.kv_heads, runMaps.group_size, runMaps.kv_head_of_head], [2, 2, [0, 0, 1, 1]]);
});

test('a train --arch llama run: generate, eval, next --lens, attention, quantize, export-torch and surprisal work on it', async () => {
  const g = cliJson(['generate', run, '--prompt', '대한', '--max-tokens', '4']);
  assert.equal(g.tokens, 4);
  const e = cliJson(['eval', run, KOREAN]);
  assert.ok(e.loss > 0 && e.loss < e.baselines.uniform_loss + 0.5, `loss ${e.loss}`);
  assert.equal(cliJson(['next', run, '--prompt', '대한', '--lens']).lens.length, 3);
  const q = cliJson(['quantize', run, '-o', join(work, 'run-int8')]);
  assert.ok(q.kl < 1e-3, `KL ${q.kl}`);
  assert.equal(readModelFolder(join(work, 'run-int8')).config.llama!.family, 'llama');
  const exported = cliJson(['export-torch', run, '-o', join(work, 'torch')]);
  assert.equal(exported.step, 6);
  const loaded = await loadModel(run);
  try {
    const s = await documentSurprisal(loaded, '대한민국은 민주공화국이다.');
    assert.equal(s.scored.length, loaded.tokenizer.encode('대한민국은 민주공화국이다.').length - 1);
    assert.ok(s.scored.every((t) => Number.isFinite(t.bits) && t.bits > 0 && t.rank >= 1));
    assert.equal(s.copied?.corpus, KOREAN);
  } finally {
    loaded.model.dispose();
  }
});

test('finetune: every weight of a Qwen2 folder on a text, the result a Qwen2 checkpoint that completes', () => {
  const base = join(FIXTURES, 'qwen2');
  const out = join(work, 'ft');
  const r = runCli(['finetune', base, KOREAN, '--max-steps', '3', '--context', '32', '--batch', '2', '-o', out, '--json'], work, 300_000);
  assert.equal(r.code, 0, r.stderr);
  const ckpt = resolveCheckpoint(out);
  const config = JSON.parse(readFileSync(join(ckpt, 'config.json'), 'utf8'));
  assert.deepEqual([config.model_type, config.architectures], ['qwen2', ['Qwen2ForCausalLM']]);
  const tuned = readModelFolder(ckpt);
  const original = readModelFolder(base);
  assert.notDeepEqual(
    tuned.weights.get('model.layers.0.mlp.down_proj.weight')!.data,
    original.weights.get('model.layers.0.mlp.down_proj.weight')!.data,
  );
  assert.equal(cliJson(['generate', out, '--prompt', '대한', '--max-tokens', '3']).tokens, 3);

  assert.match(
    runCli(['finetune', '--help'], work).stdout,
    /Hugging Face GPT-2, Llama, Mistral, Qwen2 or Qwen3 folder.*--lora .*\(PEFT's format;/,
  );
});

test("finetune --lora of a train --arch llama run: PEFT's adapter on the seven projections by default; a target it lacks is refused naming its own", () => {
  const lora = join(work, 'ft-lora');
  const r = runCli(
    ['finetune', run, KOREAN, '--lora', '--rank', '2', '--max-steps', '2', '--batch', '2', '-o', lora, '--json'],
    work,
    300_000,
  );
  assert.equal(r.code, 0, r.stderr);
  const config = JSON.parse(readFileSync(join(resolveCheckpoint(lora), 'adapter_config.json'), 'utf8'));
  assert.deepEqual(config.target_modules, ['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj']);
  assert.equal(config.fan_in_fan_out, false);
  assert.equal(cliJson(['generate', lora, '--prompt', '대한', '--max-tokens', '3']).tokens, 3);
  assertCliUserError(
    ['finetune', run, KOREAN, '--lora', '--targets', 'c_attn', '--max-steps', '2', '-o', join(work, 'ft-lora-gpt2-names')],
    work,
    /LoRA target "c_attn" matches no module of this model; the modules are self_attn\.q_proj, self_attn\.k_proj, self_attn\.v_proj, self_attn\.o_proj, mlp\.gate_proj, mlp\.up_proj, mlp\.down_proj, all-linear \(in each of the \d+ blocks\)$/,
  );
  assert.equal(existsSync(join(work, 'ft-lora-gpt2-names')), false);
});

test('finetune every weight of a Llama folder with its own lm_head: the embedding and the head both learn', () => {
  const base = join(FIXTURES, 'llama');
  const out = join(work, 'ft-llama');
  const r = runCli(['finetune', base, KOREAN, '--max-steps', '2', '--context', '32', '--batch', '2', '-o', out, '--json'], work, 300_000);
  assert.equal(r.code, 0, r.stderr);
  const tuned = readModelFolder(resolveCheckpoint(out));
  const original = readModelFolder(base);
  for (const name of ['model.embed_tokens.weight', 'lm_head.weight'])
    assert.notDeepEqual(tuned.weights.get(name)!.data, original.weights.get(name)!.data, name);
});

test('finetune --unseen extend of a char-level train --arch llama run on new characters: the embedding grows, the run completes', () => {
  const out = join(work, 'ft-extend');
  const r = runCli(['finetune', run, ENGLISH, '--unseen', 'extend', '--max-steps', '2', '-o', out, '--json'], work, 300_000);
  assert.equal(r.code, 0, r.stderr);
  const before = readModelFolder(resolveCheckpoint(run)).config.vocabSize;
  const after = readModelFolder(resolveCheckpoint(out));
  assert.ok(after.config.vocabSize > before, `${before} → ${after.config.vocabSize}`);
  assert.equal(after.config.llama!.family, 'llama');
  assert.equal(cliJson(['generate', out, '--prompt', 'The ', '--max-tokens', '3']).tokens, 3);
});

test('extendEmbedding grows an own output head (lm_head) with the embedding, keeping the old rows', () => {
  const { config, weights } = readModelFolder(join(FIXTURES, 'llama'));
  const grown = extendEmbedding(config, weights, 3, 1);
  assert.equal(grown.config.vocabSize, config.vocabSize + 3);
  for (const name of ['model.embed_tokens.weight', 'lm_head.weight']) {
    const t = grown.weights.get(name)!;
    assert.deepEqual(t.shape, [config.vocabSize + 3, config.width]);
    assert.deepEqual(t.data.subarray(0, weights.get(name)!.data.length), weights.get(name)!.data);
    assert.ok(t.data.subarray(weights.get(name)!.data.length).some((v) => v !== 0));
  }
});

test('merge and generate refuse a PEFT adapter that does not fit its Llama-family base in one line, naming the tensor', () => {
  const adapter = join(work, 'peft-adapter');
  mkdirSync(adapter);
  writeFileSync(
    join(adapter, 'adapter_config.json'),
    adapterConfigJson({ r: 4, alpha: 8, rslora: false, targets: ['q_proj', 'v_proj'], dropout: 0 }, join(FIXTURES, 'llama'), true),
  );
  writeFileSync(join(adapter, 'adapter_model.safetensors'), encodeSafetensors(new Map(), { format: 'pt' }));
  const re = /peft-adapter does not fit the base model .*llama: .*model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight/;
  assertCliUserError(['merge', adapter, '-o', join(work, 'merged'), '--base', join(FIXTURES, 'llama')], work, re);
  assertCliUserError(['generate', adapter, '--base', join(FIXTURES, 'llama'), '--prompt', 'Hi'], work, re);
  assert.equal(existsSync(join(work, 'merged')), false);
});

test('estimate of fine-tuning a Llama-family folder: its own shape, tokenizer and measured steps, with LoRA on its seven projections', async () => {
  const base = join(FIXTURES, 'qwen3');
  const e = await runEstimateJob({ corpusPath: KOREAN, finetune: { basePath: base }, measureSteps: 1, backend: 'wasm' });
  assert.equal(e.config.llama!.family, 'qwen3');
  assert.equal(e.params, e.trainableParams);
  assert.ok(e.secondsPerEpoch! > 0 && e.tokens > 1000, JSON.stringify({ s: e.secondsPerEpoch, tokens: e.tokens }));
  const lora = await runEstimateJob({
    corpusPath: KOREAN,
    finetune: { basePath: base, lora: true, rank: 4 },
    measureSteps: 1,
    backend: 'wasm',
  });
  const { width, layers, heads } = lora.config;
  const { headDim, kvHeads, mlpWidth } = lora.config.llama!;
  const [q, kv] = [heads * headDim, kvHeads * headDim];
  const perBlock = [q + width, kv + width, kv + width, q + width, mlpWidth + width, mlpWidth + width, mlpWidth + width];
  assert.equal(lora.trainableParams, 4 * layers * perBlock.reduce((a, b) => a + b));
});
