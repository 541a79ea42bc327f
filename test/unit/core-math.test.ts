import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, mixSeed } from '../../src/core/rng';
import { learningRateAt } from '../../src/core/lr-schedule';
import { EpochPlan, evalWindowStarts, fillBatch, stepsPerEpoch } from '../../src/core/batches';
import { sampleToken, argmax } from '../../src/core/sampling';
import { StopSequenceFilter } from '../../src/core/stop-sequences';
import { presetNamed, validateModelConfig, ModelConfig } from '../../src/core/model-config';
import { parameterCount } from '../../src/core/weight-table';
import { makeTrainPlan, largestContextThatFits } from '../../src/core/train-plan';
import { DEFAULT_TRAIN_OPTIONS, validateTrainOptions } from '../../src/core/train-options';
import { estimate } from '../../src/core/estimate';
import { formatBytes } from '../../src/core/format-bytes';
import { isUserError } from '../../src/core/errors';

const tiny: ModelConfig = { vocabSize: 65, context: 64, layers: 4, heads: 4, width: 128, norm: 'layernorm', dropout: 0, bias: true };

test('rng: same seed, same sequence; different seeds differ; values in [0,1)', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const xs = Array.from({ length: 1000 }, () => a.next());
  assert.deepEqual(
    xs,
    Array.from({ length: 1000 }, () => b.next()),
  );
  assert.notDeepEqual(
    xs.slice(0, 10),
    Array.from({ length: 10 }, () => c.next()),
  );
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  assert.notEqual(mixSeed(1, 2), mixSeed(2, 1));
  assert.notEqual(mixSeed(1, 2 ** 32), mixSeed(1, 0));
});

test('lr schedule: warm-up rises linearly, cosine falls to minLr at the end', () => {
  const s = { lr: 1e-3, minLr: 1e-4, warmupSteps: 100, totalSteps: 2000 };
  assert.ok(learningRateAt(s, 0) < learningRateAt(s, 50));
  assert.ok(Math.abs(learningRateAt(s, 99) - 1e-3 * (100 / 101)) < 1e-12);
  assert.ok(Math.abs(learningRateAt(s, 100) - 1e-3) < 1e-12);
  assert.ok(Math.abs(learningRateAt(s, 1050) - 5.5e-4) < 1e-9);
  assert.equal(learningRateAt(s, 2000), 1e-4);
  for (let i = 101; i < 2000; i++) assert.ok(learningRateAt(s, i) <= learningRateAt(s, i - 1));
});

test('epoch plan: windows tile the split, order depends only on (seed, epoch)', () => {
  const plan = new EpochPlan(1000, 64, 7, 0);
  const again = new EpochPlan(1000, 64, 7, 0);
  const next = new EpochPlan(1000, 64, 7, 1);
  assert.deepEqual(Array.from(plan.starts), Array.from(again.starts));
  assert.notDeepEqual(Array.from(plan.starts), Array.from(next.starts));
  const sorted = Array.from(plan.starts).sort((a, b) => a - b);
  for (let i = 1; i < sorted.length; i++) assert.equal(sorted[i] - sorted[i - 1], 64);
  assert.ok(sorted[0] < 64);
  assert.ok(sorted[sorted.length - 1] + 64 + 1 <= 1000);
  assert.ok(sorted.length >= 14 && sorted.length <= 15);
  assert.equal(stepsPerEpoch(1000, 64, 4), 4);
  assert.equal(stepsPerEpoch(2 * 64 + 1, 64, 12), 1);
  assert.equal(new EpochPlan(65, 64, 1, 0).starts.length, 1);
});

test('fillBatch: targets are inputs shifted by one; short epochs wrap around', () => {
  const tokens = Int32Array.from({ length: 200 }, (_, i) => i);
  const plan = new EpochPlan(200, 8, 3, 0);
  const inputs = new Int32Array(4 * 8);
  const targets = new Int32Array(4 * 8);
  fillBatch(tokens, plan, 0, 4, 8, inputs, targets);
  for (let i = 0; i < inputs.length; i++) assert.equal(targets[i], inputs[i] + 1);
  const small = new EpochPlan(20, 8, 3, 0);
  fillBatch(tokens.subarray(0, 20), small, 0, 4, 8, inputs, targets);
  const n = small.starts.length;
  assert.ok(n >= 1 && n <= 2);
  assert.deepEqual(Array.from(inputs.subarray(0, 8)), Array.from(inputs.subarray(n * 8, n * 8 + 8)));
  assert.deepEqual(Array.from(inputs.subarray(0, 8)), Array.from(tokens.subarray(small.starts[0], small.starts[0] + 8)));
  assert.deepEqual(evalWindowStarts(100, 10, 3), [0, 10, 20]);
  assert.deepEqual(evalWindowStarts(21, 10, 99), [0, 10]);
});

test('sampling: greedy at temperature 0, top-k and top-p restrict the choice', () => {
  const logits = Float32Array.from([1, 5, 3, 4, 0]);
  assert.equal(argmax(logits), 1);
  assert.equal(sampleToken(logits, { temperature: 0, topK: 0, topP: 1 }, new Rng(1)), 1);
  const rng = new Rng(5);
  const seen = new Set<number>();
  for (let i = 0; i < 500; i++) seen.add(sampleToken(logits, { temperature: 1, topK: 2, topP: 1 }, rng));
  assert.deepEqual([...seen].sort(), [1, 3]);
  // p(1) = e^5/(e^5+e^4+e^3+e+1) ≈ 0.64 < 0.7, so top-p 0.7 keeps {1, 3}; 0.5 keeps only {1}.
  const seenP = new Set<number>();
  for (let i = 0; i < 500; i++) seenP.add(sampleToken(logits, { temperature: 1, topK: 0, topP: 0.5 }, rng));
  assert.deepEqual([...seenP], [1]);
  const counts = [0, 0, 0, 0, 0];
  for (let i = 0; i < 20000; i++) counts[sampleToken(logits, { temperature: 1, topK: 0, topP: 1 }, rng)]++;
  const z = [1, 5, 3, 4, 0].map(Math.exp).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(counts[1] / 20000 - Math.exp(5) / z) < 0.02);
});

test('stop sequences: held back across chunks, cut at the first match', () => {
  const f = new StopSequenceFilter(['\n\n', 'END']);
  let out = f.push('Hello');
  out += f.push(' wor');
  out += f.push('ld\n');
  assert.equal(out, 'Hello world');
  out += f.push('\nmore');
  assert.equal(out, 'Hello world');
  assert.ok(f.stopped);
  const g = new StopSequenceFilter(['끝.']);
  assert.equal(g.push('안녕하세요 끝') + g.push('이 아니다') + g.flush(), '안녕하세요 끝이 아니다');
  const h = new StopSequenceFilter(['EN']);
  assert.equal(h.push('abcE') + h.flush(), 'abcE');
});

test('model config: exact parameter counts, presets, validation', () => {
  // 4·(2·128 + 128·384+384 + 128·128+128 + 2·128 + 128·512+512 + 512·128+128) + 65·128 + 64·128 + 2·128
  assert.equal(parameterCount(tiny), 809_856);
  // Dynamic Tanh: an α per norm (2 per block and the final one) and the embedding scale.
  assert.equal(parameterCount({ ...tiny, norm: 'dyt' }), 809_856 + 4 * 2 + 1 + 1);
  assert.equal(presetNamed('small').layers, 6);
  assert.throws(
    () => presetNamed('huge'),
    (e: unknown) => isUserError(e) && /unknown preset "huge".*tiny, small/.test((e as Error).message),
  );
  for (const bad of [{ heads: 3 }, { layers: 0 }, { width: -1 }, { context: NaN }, { dropout: 1 }, { norm: 'rms' }]) {
    assert.throws(() => validateModelConfig({ ...tiny, ...(bad as Partial<ModelConfig>) }), isUserError, JSON.stringify(bad));
  }
});

test('train plan: split, epochs, defaults, and a corpus too short says what fits', () => {
  const plan = makeTrainPlan(1_000_000, tiny, { ...DEFAULT_TRAIN_OPTIONS, maxSteps: 2000 });
  assert.equal(plan.valTokens, 100_000);
  assert.equal(plan.trainTokens, 900_000);
  assert.equal(plan.totalSteps, 2000);
  assert.equal(plan.warmupSteps, 100);
  assert.equal(plan.evalEvery, 100);
  assert.equal(makeTrainPlan(1_000_000, tiny, { ...DEFAULT_TRAIN_OPTIONS, epochs: 1 }).totalSteps, plan.stepsPerEpoch);
  // Without a length, a run is as long as its text needs (issue 18 item 17): the tiny preset's
  // validation was best at step 180 of speech-ko.txt (3,689 tokens; 600 steps planned before, 100
  // epochs, overfitting) and near step 368 of constitution-ko.txt (19,240 tokens).
  const speech = makeTrainPlan(3689, tiny, DEFAULT_TRAIN_OPTIONS);
  assert.ok(Math.abs(speech.totalSteps - 180) <= 180 * 0.2, `${speech.totalSteps} steps for speech-ko.txt`);
  assert.equal(speech.totalSteps % speech.stepsPerEpoch, 0, 'whole epochs');
  const constitution = makeTrainPlan(19_240, tiny, DEFAULT_TRAIN_OPTIONS);
  assert.ok(Math.abs(constitution.totalSteps - 368) <= 368 * 0.2, `${constitution.totalSteps} steps for constitution-ko.txt`);
  // A big text is passed over fewer times, but at least once.
  const big = makeTrainPlan(1_000_000, tiny, DEFAULT_TRAIN_OPTIONS);
  assert.ok(big.totalSteps / big.stepsPerEpoch < constitution.totalSteps / constitution.stepsPerEpoch);
  assert.ok(makeTrainPlan(50_000_000, tiny, DEFAULT_TRAIN_OPTIONS).totalSteps >= 1);
  assert.throws(
    () => makeTrainPlan(100, tiny, DEFAULT_TRAIN_OPTIONS),
    (e: unknown) => isUserError(e) && /100 tokens, too few for context 64.*--context 32/.test((e as Error).message),
  );
  assert.equal(largestContextThatFits(100, 0.1), 32);
  for (const bad of [{ lr: 0 }, { lr: NaN }, { batch: 0 }, { maxSteps: -5 }, { epochs: 1.5 }, { seed: -1 }]) {
    assert.throws(() => validateTrainOptions({ ...DEFAULT_TRAIN_OPTIONS, ...bad }), isUserError, JSON.stringify(bad));
  }
});

test('estimate: FLOPs per token and memory follow the formulas; time per epoch from measured steps', () => {
  const e = estimate(tiny, 12, 100, 0.4);
  assert.equal(e.params, 809_856);
  assert.equal(e.flopsPerToken, 6 * 809_856 + 12 * 4 * 128 * 64);
  assert.equal(e.secondsPerEpoch, 40);
  assert.ok(e.trainingBytes > 4 * 4 * 809_856);
  assert.equal(formatBytes(1536), '1.5 KB');
  assert.equal(formatBytes(300 * 1024 * 1024), '300 MB');
});
