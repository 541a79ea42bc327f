import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Q8_0_BLOCK, dequantizeMatrix, quantizeMatrix, quantizedMatrices } from '../../src/core/int8';
import { readModelFolder } from '../../src/core/model-folder';
import { HostTensor } from '../../src/core/tensor';
import { Rng } from '../../src/core/rng';
import { REPO, runCli, tempDir } from './helpers';

// int8 of Llama-family models: their linear layers are nn.Linear [out, in], so a scale runs along
// each OUTPUT row (GPT-2's Conv1D [in, out] has its outputs in the columns).
const DIR = join(REPO, 'test/fixtures/hf-llama');

/** A [rows, cols] matrix whose row r holds values up to (r + 1) and column c up to (c + 1) / cols. */
function graded(rows: number, cols: number): HostTensor {
  const rng = new Rng(3);
  const data = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) data[r * cols + c] = (2 * rng.next() - 1) * (r + 1) * ((c + 1) / cols);
  return { shape: [rows, cols], data };
}

const maxAbs = (values: ArrayLike<number>) => Array.from(values).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

test('int8 of an nn.Linear matrix [out, in]: one scale per output row (channel) or per 32 inputs of a row (q8_0), error ≤ scale/2', () => {
  const [out, inputs] = [6, 70];
  const w = graded(out, inputs);
  const channel = quantizeMatrix(w, 'channel', 'out-in');
  assert.deepEqual(channel.scale.shape, [out]);
  for (let o = 0; o < out; o++) {
    const row = w.data.subarray(o * inputs, (o + 1) * inputs);
    assert.equal(channel.scale.data[o], Math.fround(maxAbs(row) / 127), `row ${o}`);
  }
  const q8 = quantizeMatrix(w, 'q8_0', 'out-in');
  const blocks = Math.ceil(inputs / Q8_0_BLOCK);
  assert.deepEqual(q8.scale.shape, [out, blocks]);
  for (let o = 0; o < out; o++)
    for (let b = 0; b < blocks; b++) {
      const block = w.data.subarray(o * inputs + b * Q8_0_BLOCK, o * inputs + Math.min(inputs, (b + 1) * Q8_0_BLOCK));
      assert.equal(q8.scale.data[o * blocks + b], Math.fround(maxAbs(block) / 127), `row ${o} block ${b}`);
    }
  for (const [scheme, { q, scale }] of [
    ['channel', channel],
    ['q8_0', q8],
  ] as const) {
    const back = dequantizeMatrix(q, scale, scheme, 'out-in');
    for (let i = 0; i < w.data.length; i++) {
      const o = Math.floor(i / inputs);
      const s = scheme === 'channel' ? scale.data[o] : scale.data[o * blocks + Math.floor((i % inputs) / Q8_0_BLOCK)];
      assert.ok(Math.abs(back.data[i] - w.data[i]) <= s / 2 + 1e-7 * Math.abs(w.data[i]), `${scheme} element ${i}`);
    }
  }
  // Read as GPT-2's layout the same data would be scaled by columns: a different, wrong grouping here.
  assert.notDeepEqual(quantizeMatrix(w, 'channel', 'in-out').scale.shape, channel.scale.shape);
});

test('int8 stores the seven projections of each Llama-family block; embeddings, an own head and norms stay F32', () => {
  const m = readModelFolder(join(DIR, 'llama'));
  const names = [...quantizedMatrices(m.config)];
  assert.equal(names.length, 7 * m.config.layers);
  for (const n of names) assert.match(n, /^model\.layers\.\d+\.(self_attn\.[qkvo]_proj|mlp\.(gate|up|down)_proj)\.weight$/);
});

interface QuantizeReport {
  scheme: string;
  size_ratio: number;
  loss_fp32: number;
  loss_int8: number;
  top1_agreement: number;
  kl: number;
  tokens: number;
}

for (const name of ['llama', 'qwen2'] as const) {
  test(`quantize a ${name} folder (both schemes): the report, scales per output row, and the int8 folder reads back, completes and predicts as the original`, () => {
    const dir = join(DIR, name);
    const work = tempDir();
    const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as { prompt: string };
    const text = join(work, 'text.txt');
    writeFileSync(text, `${ref.prompt}\n`.repeat(3));
    const original = readModelFolder(dir);
    const l = original.config.llama!;
    for (const scheme of ['channel', 'q8_0'] as const) {
      const out = join(work, `int8-${scheme}`);
      const r = runCli(['quantize', dir, '-o', out, '--scheme', scheme, '--text', text, '--json'], work);
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout) as QuantizeReport;
      assert.equal(report.scheme, scheme);
      assert.ok(report.size_ratio < 0.9, `size ratio ${report.size_ratio}`);
      assert.ok(report.kl < 0.01 && report.top1_agreement > 0.85, `KL ${report.kl}, top-1 ${report.top1_agreement}`);
      assert.ok(Math.abs(report.loss_int8 - report.loss_fp32) < 0.02 * report.loss_fp32, `${report.loss_fp32} → ${report.loss_int8}`);

      const int8 = readModelFolder(out);
      assert.equal(int8.kind, 'int8');
      assert.equal(int8.int8Scheme, scheme);
      assert.deepEqual(int8.config.llama, { ...l });
      const raw = readFileSync(join(out, 'model-int8.safetensors'));
      const header = JSON.parse(raw.subarray(8, 8 + Number(raw.readBigUInt64LE(0))).toString('utf8'));
      // k_proj is [kvHeads·headDim, width] = [32, 64], down_proj [width, mlpWidth]: rows are outputs.
      const k = 'model.layers.1.self_attn.k_proj.weight';
      const down = 'model.layers.0.mlp.down_proj.weight';
      assert.equal(header[k].dtype, 'I8');
      assert.equal(header['model.embed_tokens.weight'].dtype, 'F32');
      const blocks = (inputs: number) => (scheme === 'channel' ? [] : [Math.ceil(inputs / Q8_0_BLOCK)]);
      assert.deepEqual(header[`${k}_scale`].shape, [l.kvHeads * l.headDim, ...blocks(original.config.width)]);
      assert.deepEqual(header[`${down}_scale`].shape, [original.config.width, ...blocks(l.mlpWidth)]);
      for (const n of [k, down]) {
        const [rows, cols] = original.weights.get(n)!.shape;
        const w = original.weights.get(n)!.data;
        const back = int8.weights.get(n)!.data;
        for (let o = 0; o < rows; o++) {
          const s = maxAbs(w.subarray(o * cols, (o + 1) * cols)) / 127;
          for (let i = 0; i < cols; i++) assert.ok(Math.abs(back[o * cols + i] - w[o * cols + i]) <= s / 2 + 1e-6, `${n} [${o}, ${i}]`);
        }
      }

      const next = (model: string) => {
        const n = runCli(['next', model, '--prompt', ref.prompt, '--top-k', '5', '--json'], work);
        assert.equal(n.code, 0, n.stderr);
        return JSON.parse(n.stdout).candidates as { id: number; prob: number }[];
      };
      const [a, b] = [next(dir), next(out)];
      assert.equal(b[0].id, a[0].id);
      a.forEach((c, i) => assert.ok(Math.abs(c.prob - b[i].prob) < 0.01, `candidate ${i}: ${c.prob} vs ${b[i].prob}`));
      const g = runCli(['generate', out, '--prompt', ref.prompt, '--max-tokens', '5', '--json'], work);
      assert.equal(g.code, 0, g.stderr);
      assert.equal(JSON.parse(g.stdout).tokens, 5);
    }
  });
}
