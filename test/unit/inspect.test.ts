import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { shapeDistribution } from '../../src/core/distribution';
import { sampleToken } from '../../src/core/sampling';
import { Rng } from '../../src/core/rng';
import { groupTokens } from '../../src/core/token-groups';
import { ModelConfig } from '../../src/core/model-config';
import { writeCheckpoint } from '../../src/core/checkpoint';
import { NamedTensors } from '../../src/core/tensor';
import { trainTokenizer } from '../../src/core/tokenizer';
import { startEngine, tf } from '../../src/worker/engine/backend';
import { Gpt, Inspection, KERNEL_OPS, TFJS_OPS } from '../../src/worker/model/gpt';
import { parseFromNextToken, parseToAttention, parseToNextToken } from '../../src/extension/webview/inspect-protocol';
import { CLI, KOREAN, REPO, tempDir } from './helpers';
import { attentionMaps, topIds } from '../../src/worker/jobs/inspect-job';
import { loadModel } from '../../src/worker/jobs/load-model';

const dir = tempDir('corpus-lab-inspect-');
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

before(async () => {
  await startEngine('wasm');
});

const softmax = (xs: number[], t = 1) => {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp((x - m) / t));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
};

test('shapeDistribution: softmax(logits / T), entropy in bits, temperature 0 = argmax, top-k then the smallest top-p set', () => {
  const logits = [1, 3, 2, 3, -1, 0.5];
  const s = shapeDistribution(logits, { temperature: 0.7, topK: 0, topP: 1 });
  const expected = softmax(logits, 0.7);
  expected.forEach((p, i) => assert.ok(Math.abs(s.probs[i] - p) < 1e-12));
  assert.deepEqual(s.order, [1, 3, 2, 0, 5, 4]);
  assert.ok(Math.abs(s.entropyBits - -expected.reduce((a, p) => a + p * Math.log2(p), 0)) < 1e-12);
  assert.equal(s.kept, 6);
  assert.ok(Math.abs(s.massKept - 1) < 1e-12);

  const greedy = shapeDistribution(logits, { temperature: 0, topK: 0, topP: 1 });
  assert.deepEqual(Array.from(greedy.probs), [0, 1, 0, 0, 0, 0]);
  assert.equal(greedy.entropyBits, 0);
  const cold = shapeDistribution([0, 5, 1], { temperature: 1e-3, topK: 0, topP: 1 });
  assert.ok(cold.probs[1] > 1 - 1e-12);

  const p = shapeDistribution(logits, { temperature: 1, topK: 0, topP: 0.8 });
  const sorted = p.order.map((id) => p.probs[id]);
  const prefix = (n: number) => sorted.slice(0, n).reduce((a, b) => a + b, 0);
  assert.ok(prefix(p.kept) >= 0.8 && prefix(p.kept - 1) < 0.8, `kept ${p.kept}`);
  assert.ok(Math.abs(p.massKept - prefix(p.kept)) < 1e-12);
  const k = shapeDistribution(logits, { temperature: 1, topK: 2, topP: 1 });
  assert.equal(k.kept, 2);
  assert.ok(Math.abs(k.massKept - prefix(2)) < 1e-12);

  // Sampling draws only from what the view shows as kept.
  const rng = new Rng(3);
  const drawn = new Set(
    Array.from({ length: 400 }, () => sampleToken(Float32Array.from(logits), { temperature: 1, topK: 0, topP: 0.8 }, rng)),
  );
  assert.deepEqual([...drawn].sort(), p.order.slice(0, p.kept).sort());
});

test('groupTokens: byte tokens of one Hangul syllable become that syllable with all their ids', () => {
  const bytes = (s: string) => Array.from(new TextEncoder().encode(s));
  const han = bytes('한'); // ED 95 9C
  const groups = groupTokens([
    { id: 1, bytes: bytes('a') },
    { id: 2, bytes: han.slice(0, 1) },
    { id: 3, bytes: han.slice(1) },
    { id: 4, bytes: [...bytes(' 대'), ...bytes('한').slice(0, 2)] },
    { id: 5, bytes: [bytes('한')[2], ...bytes('민')] },
    { id: 6, bytes: bytes('국').slice(0, 1) },
  ]);
  assert.deepEqual(groups, [
    { text: 'a', ids: [1] },
    { text: '한', ids: [2, 3] },
    { text: ' 대한민', ids: [4, 5] },
    { text: '<0xEA>', ids: [6] },
  ]);
});

const config: ModelConfig = { vocabSize: 23, context: 12, layers: 3, heads: 2, width: 16, norm: 'layernorm', dropout: 0, bias: true };

function perturbed(c: ModelConfig, seed: number): Gpt {
  const model = Gpt.initialise(c, seed);
  for (const v of model.params.values()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.3, 'float32', seed + 1)));
  return model;
}

test('topIds: the k largest, largest first, ties to the lower id, as a full sort gives', () => {
  const rng = new Rng(7);
  for (let round = 0; round < 200; round++) {
    const n = 1 + Math.floor(rng.next() * 40);
    // Few distinct values, so ties are common.
    const values = Float32Array.from({ length: n }, () => Math.floor(rng.next() * 6) / 6);
    const k = 1 + Math.floor(rng.next() * 7);
    const sorted = Array.from(values.keys()).sort((a, b) => values[b] - values[a] || a - b);
    assert.deepEqual(topIds(values, k), sorted.slice(0, k), `values ${Array.from(values)} k ${k}`);
  }
});

test("forward with inspect: attention rows sum to 1 and are causal; the same logits as without; the lens's last layer is the prediction (kernels and tfjs ops, LayerNorm and DyT)", async () => {
  for (const norm of ['layernorm', 'dyt'] as const) {
    for (const ops of [KERNEL_OPS, TFJS_OPS]) {
      const model = perturbed({ ...config, norm }, 5);
      model.ops = ops;
      const ids = tf.tensor2d([[3, 1, 4, 1, 5, 9, 2, 6, 5, 3]], [1, 10], 'int32');
      const plain = await model.forward(ids).data();
      const inspect: Inspection = { attention: [], hidden: [] };
      const logits = model.forward(ids, { inspect });
      const seen = await logits.data();
      assert.ok(
        plain.every((x, i) => Math.abs(x - seen[i]) < 1e-5),
        'logits changed when inspected',
      );
      assert.equal(inspect.attention!.length, config.layers);
      assert.equal(inspect.hidden!.length, config.layers + 1);
      for (const a of inspect.attention!) {
        assert.deepEqual(a.shape, [config.heads, 10, 10]);
        const rows = (await a.array()) as number[][][];
        for (const head of rows)
          head.forEach((row, q) => {
            assert.ok(Math.abs(row.reduce((x, y) => x + y, 0) - 1) < 1e-5);
            row.forEach((w, k) => (k > q ? assert.equal(w, 0) : assert.ok(w > 0)));
          });
      }
      const lensLast = await model.readOut(inspect.hidden!.at(-1)!).data();
      assert.deepEqual(Array.from(lensLast), Array.from(await logits.data()));
      model.dispose();
    }
  }
});

let checkpoint = '';
let tokenizerText = '';

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

before(async () => {
  await startEngine('wasm');
  tokenizerText = readFileSync(KOREAN, 'utf8');
  const tokenizer = trainTokenizer(tokenizerText, { kind: 'bpe', vocabSize: 300 });
  const c: ModelConfig = { ...config, vocabSize: tokenizer.vocabSize };
  const model = perturbed(c, 9);
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
  checkpoint = writeCheckpoint(join(dir, 'run'), 'epoch-0001', {
    config: c,
    weights,
    optimizer,
    trainerState: { step: 1, epoch: 1, cursor: 0, seed: 1, best_val_loss: null, rng: {} },
    tokenizerJson: tokenizer.toJSON(),
  });
  model.dispose();
});

test('next and attention (CLI contract): candidates by probability with softmax(logit / T); attention over the last ≤ context tokens', () => {
  const prompt = '대한민국은 민주공화국이다. 대한민국의 주권은';
  const next = cli(['next', checkpoint, '--prompt', prompt, '--top-k', '7', '--temperature', '0.8', '--json']);
  assert.equal(next.prompt_tokens, config.context);
  assert.equal(next.candidates.length, 7);
  for (const c of next.candidates)
    for (const [k, type] of Object.entries({ id: 'number', text: 'string', prob: 'number', logit: 'number' }))
      assert.equal(typeof c[k], type, k);
  for (let i = 1; i < 7; i++) assert.ok(next.candidates[i - 1].prob >= next.candidates[i].prob);
  const [a, b] = next.candidates;
  assert.ok(Math.abs(a.prob / b.prob - Math.exp((a.logit - b.logit) / 0.8)) < 1e-4);
  assert.ok(next.entropy_bits > 0 && next.entropy_bits < Math.log2(300));
  const greedy = cli(['next', checkpoint, '--prompt', prompt, '--temperature', '0', '--json']);
  assert.equal(greedy.candidates[0].prob, 1);
  assert.equal(greedy.candidates[0].id, a.id);
  assert.equal(greedy.entropy_bits, 0);

  const att = cli(['attention', checkpoint, '--prompt', prompt, '--json']);
  assert.equal(att.tokens.length, config.context);
  assert.equal(att.attention.length, config.layers);
  for (const layer of att.attention) {
    assert.equal(layer.length, config.heads);
    for (const head of layer)
      head.forEach((row: number[], q: number) => {
        assert.equal(row.length, config.context);
        assert.ok(Math.abs(row.reduce((x, y) => x + y, 0) - 1) < 1e-5);
        row.forEach((w, k) => k > q && assert.equal(w, 0));
      });
  }
  const short = cli(['attention', checkpoint, '--prompt', '대한', '--json']);
  assert.ok(short.tokens.length < config.context && short.tokens.length >= 1);
  assert.equal(short.attention[0][0].length, short.tokens.length);
});

test('a PyTorch reading of the checkpoint gives the same candidates, attention maps and logit lens', (t) => {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch, numpy'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    t.skip('PyTorch is not installed (apt-get install python3-torch python3-numpy); .ci/run installs it');
    return;
  }
  const prompt = '헌법에 의하여 체결·공포된 조약과';
  const next = cli(['next', checkpoint, '--prompt', prompt, '--top-k', '0', '--lens', '--json']);
  const att = cli(['attention', checkpoint, '--prompt', prompt, '--json']);
  const ids = att.tokens.map((x: { id: number }) => x.id);
  assert.equal(ids.length, next.prompt_tokens);
  const out = execFileSync(
    '/usr/bin/python3',
    [join(__dirname, '../../../test/reference/gpt2_logits.py'), checkpoint, JSON.stringify(ids)],
    { encoding: 'utf8', maxBuffer: 1 << 26 },
  );
  const ref = JSON.parse(out) as { logits: number[][]; attention: number[][][][]; lens: number[][] };
  const probs = softmax(ref.logits.at(-1)!);
  assert.equal(next.candidates.length, probs.length);
  for (const c of next.candidates) {
    assert.ok(Math.abs(c.prob - probs[c.id]) < 1e-5, `token ${c.id}: ${c.prob} vs ${probs[c.id]}`);
    assert.ok(Math.abs(c.logit - ref.logits.at(-1)![c.id]) < 1e-4);
  }
  let maxDiff = 0;
  att.attention.forEach((layer: number[][][], l: number) =>
    layer.forEach((head, h) =>
      head.forEach((row, q) => row.forEach((w, k) => (maxDiff = Math.max(maxDiff, Math.abs(w - ref.attention[l][h][q][k]))))),
    ),
  );
  assert.ok(maxDiff < 1e-5, `attention differs by ${maxDiff}`);
  assert.equal(next.lens.length, config.layers + 1);
  next.lens.forEach((row: { id: number; prob: number }[], layer: number) => {
    assert.equal(row.length, 5);
    for (const c of row) assert.ok(Math.abs(c.prob - ref.lens[layer][c.id]) < 1e-5, `layer ${layer} token ${c.id}`);
    assert.ok(row[4].prob >= Math.max(...ref.lens[layer].filter((_, id) => !row.some((c) => c.id === id))) - 1e-6);
  });
  // The lens's last row is the prediction itself.
  assert.deepEqual(
    next.lens.at(-1).map((c: { id: number }) => c.id),
    next.candidates.slice(0, 5).map((c: { id: number }) => c.id),
  );
});

test('eval --json: bits per character and per UTF-8 byte of the predicted text, and --prompt required by next/attention', () => {
  const ev = cli(['eval', checkpoint, KOREAN, '--json']);
  for (const k of ['loss', 'tokens', 'bits_per_char', 'bits_per_byte', 'chars', 'bytes']) assert.equal(typeof ev[k], 'number', k);
  const bits = (ev.loss * ev.tokens) / Math.LN2;
  assert.ok(Math.abs(ev.bits_per_char - bits / ev.chars) < 1e-9);
  assert.ok(Math.abs(ev.bits_per_byte - bits / ev.bytes) < 1e-9);
  // Korean: most characters are 3-byte syllables, so bytes ≈ 2–3 × characters.
  assert.ok(ev.bytes > 2 * ev.chars && ev.bytes < 3 * ev.chars, `${ev.bytes} bytes, ${ev.chars} chars`);
  const whole = Buffer.byteLength(tokenizerText);
  assert.ok(ev.bytes <= whole && ev.bytes > whole * 0.9, `${ev.bytes} of ${whole}`);
  // What to beat: ln |V|, the text's own character frequencies, gzip; this untrained model is near the first.
  assert.ok(
    Math.abs(ev.baselines.uniform_loss - Math.log(JSON.parse(readFileSync(join(checkpoint, 'config.json'), 'utf8')).vocab_size)) < 1e-9,
  );
  assert.ok(Math.abs(ev.loss - ev.baselines.uniform_loss) < 1, `${ev.loss} vs ${ev.baselines.uniform_loss}`);
  assert.ok(
    ev.baselines.unigram_bits_per_char > 5 && ev.baselines.gzip_bits_per_byte > 1 && ev.baselines.gzip_bits_per_byte < 8,
    JSON.stringify(ev.baselines),
  );
  for (const cmd of ['next', 'attention']) {
    const r = spawnSync(process.execPath, [CLI, cmd, checkpoint], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--prompt TEXT is required/);
  }
});

test('Next Token and Attention webview messages: malformed ones are refused', () => {
  const tokens = [{ id: 1, text: 'a', bytes: [97] }];
  const next = {
    type: 'next',
    source: 's',
    model: 'm',
    tokens,
    logits: [0, 1],
    vocab: ['a', 'b'],
    pieces: [],
    start: {},
    ms: 1,
    strings: {},
  };
  assert.ok(parseToNextToken(next));
  assert.equal(parseToNextToken({ ...next, vocab: ['a'] }), undefined);
  assert.equal(parseToNextToken({ ...next, tokens: [{ id: '1', text: 'a', bytes: [] }] }), undefined);
  assert.equal(parseToNextToken({ ...next, logits: ['x', 1] }), undefined);
  assert.deepEqual(parseFromNextToken({ type: 'insert', id: 3 }), { type: 'insert', id: 3 });
  assert.equal(parseFromNextToken({ type: 'insert', id: 1.5 }), undefined);
  assert.equal(parseFromNextToken({ type: 'run', id: 1 }), undefined);
  assert.ok(parseToAttention({ type: 'attention', source: 's', model: 'm', tokens, attention: [], strings: {} }));
  assert.equal(parseToAttention({ type: 'attention', tokens: 'x', attention: [], strings: {} }), undefined);
  assert.equal(parseToAttention({ type: 'empty' }), undefined);
});

test('attention by key/value group: a grouped-query model (a Qwen2 folder, 4 heads over 2 kv heads) names the kv head each query head reads; GPT-2 names none', async () => {
  const qwen2 = await loadModel(join(REPO, 'test/fixtures/hf-llama/qwen2'), 'wasm');
  try {
    const r = await attentionMaps(qwen2, '대한민국의 주권은 국민에게 있고');
    assert.deepEqual(r.kvHeads, [0, 0, 1, 1]);
    assert.equal(r.attention.length, 2);
    for (const layer of r.attention) assert.equal(layer.length, 4);
  } finally {
    qwen2.model.dispose();
  }
  const gpt2 = await loadModel(checkpoint, 'wasm');
  try {
    const r = await attentionMaps(gpt2, '대한민국');
    assert.equal(r.kvHeads, undefined);
  } finally {
    gpt2.model.dispose();
  }
  // The Attention view's message carries the groups, and a malformed list is refused.
  const tokens = [{ id: 1, text: 'a', bytes: [97] }];
  assert.ok(parseToAttention({ type: 'attention', source: 's', model: 'm', tokens, attention: [], kvHeads: [0, 0, 1, 1], strings: {} }));
  assert.equal(
    parseToAttention({ type: 'attention', source: 's', model: 'm', tokens, attention: [], kvHeads: ['x'], strings: {} }),
    undefined,
  );
});
