import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainTokenizer } from '../../src/core/tokenizer';
import { ModelConfig } from '../../src/core/model-config';
import { randomWeights, writeGpt2Folder } from '../gpt2-folder';
import { assertCliUserError, runCli } from './helpers';

// quantize and merge as a user runs them (dist/cli.js; `npm run build` first), on a Korean run.
const REPO = join(__dirname, '../../..');
const KOREAN = join(REPO, 'media/samples/constitution-ko.txt');
const ENGLISH_FILE = join(REPO, 'media/samples/shakespeare.txt');
const SMALL = ['--layers', '1', '--heads', '2', '--width', '32', '--context', '16', '--batch', '4'];
const dir = mkdtempSync(join(tmpdir(), 'corpus-lab-cli-ft-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const cli = (args: string[]) => runCli(args, dir, 180_000);

const assertUserError = (args: string[], re: RegExp) => assertCliUserError(args, dir, re, 180_000);

test("quantize: int8 checkpoint + report on the run's held-out text; eval and generate load it; bad input is one line, exit 2", () => {
  const run = join(dir, 'run');
  const train = cli([
    'train',
    KOREAN,
    '-o',
    run,
    ...SMALL,
    '--tokenizer',
    'bpe',
    '--vocab-size',
    '400',
    '--max-steps',
    '40',
    '--backend',
    'wasm',
    '--json',
  ]);
  assert.equal(train.code, 0, train.stderr);
  const out = join(dir, 'int8');
  const r = cli(['quantize', run, '-o', out, '--json', '--backend', 'wasm']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
  for (const k of ['bytes_fp32', 'bytes_int8', 'loss_fp32', 'loss_int8', 'top1_agreement', 'kl'])
    assert.equal(typeof report[k], 'number', k);
  assert.ok(report.bytes_int8 < report.bytes_fp32);
  assert.ok(report.loss_fp32 > 1 && Math.abs(report.loss_int8 - report.loss_fp32) < 0.05, JSON.stringify(report));
  assert.ok(report.top1_agreement > 0.9 && report.top1_agreement <= 1);
  assert.ok(report.kl >= 0 && report.kl < 0.01);
  assert.match(report.eval_text, /held-out/);
  assert.deepEqual(readdirSync(out).sort(), [
    'config.json',
    'generation_config.json',
    'model-int8.safetensors',
    'tokenizer.json',
    'tokenizer_config.json',
  ]);
  const evalInt8 = cli(['eval', out, KOREAN, '--json', '--backend', 'wasm']);
  const evalFp32 = cli(['eval', run, KOREAN, '--json', '--backend', 'wasm']);
  assert.equal(evalInt8.code, 0, evalInt8.stderr);
  assert.ok(Math.abs(JSON.parse(evalInt8.stdout).loss - JSON.parse(evalFp32.stdout).loss) < 0.05);
  const gen = cli(['generate', out, '--prompt', '대한민국은', '--max-tokens', '8', '--json', '--backend', 'wasm']);
  assert.equal(gen.code, 0, gen.stderr);
  assert.equal(JSON.parse(gen.stdout).tokens, 8);
  assertUserError(['quantize', run, '-o', out], /already exists: choose a new folder/);
  assertUserError(['quantize', run], /-o OUT_DIR is required/);
  assertUserError(['quantize', run, '-o', join(dir, 'x'), '--scheme', 'q4'], /--scheme must be one of channel, q8_0/);
  assertUserError(['quantize', out, '-o', join(dir, 'y')], /already an int8 checkpoint/);
  assertUserError(['quantize', join(dir, 'nowhere'), '-o', join(dir, 'z')], /no such run or checkpoint folder/);
  const q8 = cli(['quantize', run, '-o', join(dir, 'q8'), '--scheme', 'q8_0', '--text', KOREAN, '--backend', 'wasm']);
  assert.equal(q8.code, 0, q8.stderr);
  assert.match(q8.stdout, /int8 \(q8_0\) checkpoint/);
  assert.match(q8.stdout, /top-1 +\d+\.\d+%/);
  assert.ok(!existsSync(join(dir, 'x')));
  assertUserError(['merge', run, '-o', join(dir, 'merged')], /is not a LoRA adapter/);
  assertUserError(['merge', run], /-o OUT_DIR is required/);
});

const hasTorch = spawnSync('/usr/bin/python3', ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0;
const events = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test('finetune --lora on Korean text: PEFT adapter checkpoints, trainable share, forgetting meter and replay; eval, next, merge and resume load it; PyTorch reads base + adapter alike', (t) => {
  const english = join(dir, 'en.txt');
  writeFileSync(english, readFileSync(ENGLISH_FILE, 'utf8').slice(0, 20_000));
  const korean = join(dir, 'ko.txt');
  writeFileSync(korean, readFileSync(KOREAN, 'utf8').slice(0, 6000));
  const base = join(dir, 'char-base');
  assert.equal(cli(['train', english, '-o', base, ...SMALL, '--max-steps', '30', '--backend', 'wasm']).code, 0);

  const run = join(dir, 'lora');
  const r = cli(['finetune', base, korean, '-o', run, '--lora', '--rank', '4', '--max-steps', '12', '--backend', 'wasm', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const ev = events(r.stdout);
  // A text is prepared first (its progress events), then the run starts.
  const start = ev.find((e) => e.type === 'start')!;
  assert.equal(start.type, 'start');
  // r 4 on all four modules of one block of width 32: A and B of c_attn (32→96), c_proj (32→32), c_fc (32→128), c_proj (128→32).
  assert.equal(start.trainable_params, 4 * (32 + 96) + 4 * (32 + 32) + 4 * (32 + 128) + 4 * (128 + 32));
  assert.ok((start.params as number) > (start.trainable_params as number));
  const plan = start.plan as { options: { lr: number }; warmupSteps: number };
  assert.equal(plan.options.lr, 1e-3);
  assert.ok(plan.warmupSteps > 0, 're-warmed');
  const unseen = ev.find((e) => e.type === 'notice' && /not in the model's vocabulary/.test(e.message as string));
  assert.ok(unseen, 'the pre-flight lists the unseen Korean characters');
  assert.match(unseen.message as string, /\d+\.\d+% of the text\), mapped to <unk>: "의" ×\d+/);
  const evals = ev.filter((e) => e.type === 'eval');
  assert.ok(evals.length > 0 && evals.every((e) => typeof e.base_val_loss === 'number' && (e.base_val_loss as number) > 0));
  const logged = readFileSync(join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.ok(logged.some((m) => m.type === 'eval' && typeof m.base_val_loss === 'number'));

  const ckpt = join(run, 'checkpoints', readdirSync(join(run, 'checkpoints'))[0]);
  assert.deepEqual(readdirSync(ckpt).sort(), [
    'adapter_base.json',
    'adapter_config.json',
    'adapter_model.safetensors',
    'optimizer.safetensors',
    'tokenizer.json',
    'trainer_state.json',
  ]);
  const config = JSON.parse(readFileSync(join(ckpt, 'adapter_config.json'), 'utf8'));
  assert.equal(config.r, 4);
  assert.equal(config.lora_alpha, 8, 'alpha defaults to 2 × rank');
  assert.equal(config.fan_in_fan_out, true);
  const file = readFileSync(join(ckpt, 'adapter_model.safetensors'));
  const header = JSON.parse(file.subarray(8, 8 + Number(file.readBigUInt64LE(0))).toString('utf8'));
  assert.deepEqual(header.__metadata__, { format: 'pt' });
  assert.deepEqual(header['base_model.model.transformer.h.0.attn.c_attn.lora_A.weight'].shape, [4, 32]);
  assert.deepEqual(header['base_model.model.transformer.h.0.attn.c_attn.lora_B.weight'].shape, [96, 4]);

  const ev1 = cli(['eval', run, korean, '--json', '--backend', 'wasm']);
  assert.equal(ev1.code, 0, ev1.stderr);
  assert.ok(Math.abs(JSON.parse(ev1.stdout).loss - (evals[evals.length - 1].val_loss as number)) < 1.5);
  const merged = join(dir, 'lora-merged');
  assert.equal(cli(['merge', run, '-o', merged, '--json']).code, 0);
  const mergedEval = cli(['eval', merged, korean, '--json', '--backend', 'wasm']);
  assert.ok(Math.abs(JSON.parse(mergedEval.stdout).loss - JSON.parse(ev1.stdout).loss) < 1e-4, 'merged = base + adapter');

  const prompt = 'to be or not';
  const next = cli(['next', run, '--prompt', prompt, '--top-k', '5', '--json', '--backend', 'wasm']);
  assert.equal(next.code, 0, next.stderr);

  const resumed = cli(['train', korean, '--resume', run, '--max-steps', '16', '--backend', 'wasm', '--json']);
  assert.equal(resumed.code, 0, resumed.stderr);
  const rev = events(resumed.stdout);
  assert.equal(rev[0].step, 12);
  assert.equal(rev[rev.length - 1].step, 16);
  assert.ok(rev.filter((e) => e.type === 'eval').every((e) => typeof e.base_val_loss === 'number'));
  assert.ok(existsSync(join(run, 'checkpoints', 'step-00000016', 'adapter_model.safetensors')));

  if (!hasTorch) return t.skip('PyTorch is not installed (apt-get install python3-torch python3-numpy)');
  const baseCkpt = JSON.parse(readFileSync(join(ckpt, 'adapter_base.json'), 'utf8')).path;
  const ids = JSON.parse(cli(['encode', join(ckpt, 'tokenizer.json'), writeText('prompt.txt', prompt), '--json']).stdout).ids as number[];
  const torch = JSON.parse(
    execFileSync('/usr/bin/python3', [join(REPO, 'test/reference/gpt2_logits.py'), baseCkpt, JSON.stringify(ids), ckpt], {
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    }),
  ).logits as number[][];
  const last = torch[torch.length - 1];
  for (const c of JSON.parse(next.stdout).candidates as { id: number; logit: number }[])
    assert.ok(Math.abs(c.logit - last[c.id]) < 1e-4, `token ${c.id}: ${c.logit} vs PyTorch ${last[c.id]}`);
});

function writeText(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

test('finetune (full) with --unseen extend grows a char vocabulary; mistakes are one line, exit 2', () => {
  const english = writeText('en2.txt', readFileSync(ENGLISH_FILE, 'utf8').slice(0, 8000));
  const korean = writeText('ko2.txt', readFileSync(KOREAN, 'utf8').slice(0, 4000));
  const base = join(dir, 'char-base2');
  assert.equal(cli(['train', english, '-o', base, ...SMALL, '--max-steps', '10', '--backend', 'wasm']).code, 0);
  const baseVocab = JSON.parse(readFileSync(join(base, 'run.json'), 'utf8')).tokenizer.vocabSize as number;
  const run = join(dir, 'full');
  const r = cli([
    'finetune',
    base,
    korean,
    '-o',
    run,
    '--unseen',
    'extend',
    '--max-steps',
    '6',
    '--replay',
    '0.25',
    '--backend',
    'wasm',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const start = events(r.stdout).find((e) => e.type === 'start') as {
    plan: { model: { vocabSize: number }; options: { lr: number } };
    params: number;
    trainable_params: number;
  };
  const koreanChars = new Set(readFileSync(korean, 'utf8'));
  const englishChars = new Set(readFileSync(english, 'utf8'));
  assert.equal(start.plan.model.vocabSize, baseVocab + [...koreanChars].filter((c) => !englishChars.has(c)).length);
  assert.equal(start.plan.options.lr, 1e-4, 'full fine-tuning: a tenth of the from-scratch rate');
  assert.equal(start.trainable_params, start.params);
  const gen = cli(['generate', run, '--prompt', '대한민국', '--max-tokens', '5', '--json', '--backend', 'wasm']);
  assert.equal(gen.code, 0, gen.stderr);
  assertUserError(
    ['finetune', base, korean, '-o', join(dir, 'x1'), '--lora', '--targets', 'c_atn'],
    /LoRA target "c_atn" matches no module of this model; the modules are attn\.c_attn, attn\.c_proj, mlp\.c_fc, mlp\.c_proj/,
  );
  assertUserError(
    ['finetune', base, korean, '-o', join(dir, 'x2'), '--lora', '--unseen', 'extend'],
    /--unseen extend needs new embedding rows, which a LoRA adapter cannot hold/,
  );
  assertUserError(['finetune', base, korean, '-o', join(dir, 'x3'), '--rank', '4'], /add --lora/);
  assertUserError(['finetune', base, korean, '-o', join(dir, 'x4'), '--replay', '0.9'], /--replay must be a fraction from 0 to 0\.5/);
  assertUserError(['finetune', base], /missing DATA/);
  assert.ok(!existsSync(join(dir, 'x1')));
});

test('finetune on a big base (context over 256) trains on 256-token windows, 4 a batch, by default; --context and --batch override; the model keeps its context', () => {
  const text = writeText('ko3.txt', readFileSync(KOREAN, 'utf8').slice(0, 8000));
  const bpe = trainTokenizer(readFileSync(KOREAN, 'utf8').slice(0, 6000), { kind: 'bpe', vocabSize: 300 });
  const c: ModelConfig = {
    vocabSize: bpe.vocabSize,
    context: 512,
    layers: 1,
    heads: 2,
    width: 32,
    norm: 'layernorm',
    dropout: 0,
    bias: true,
  };
  const base = writeGpt2Folder(join(dir, 'big-base'), c, randomWeights(c, 3), bpe.toJSON());
  const start = (args: string[]) => {
    const r = cli(['finetune', base, text, ...args, '--max-steps', '2', '--backend', 'wasm', '--json']);
    assert.equal(r.code, 0, r.stderr);
    return events(r.stdout).find((e) => e.type === 'start') as {
      plan: { model: { context: number }; options: { context?: number; batch: number }; stepsPerEpoch: number; trainTokens: number };
    };
  };
  const byDefault = start(['-o', join(dir, 'big-default'), '--lora']);
  assert.equal(byDefault.plan.model.context, 512, 'the model keeps its 512 positions');
  assert.equal(byDefault.plan.options.context, 256);
  assert.equal(byDefault.plan.options.batch, 4);
  assert.equal(byDefault.plan.stepsPerEpoch, Math.ceil(byDefault.plan.trainTokens / (256 * 4)));
  const asked = start(['-o', join(dir, 'big-asked'), '--context', '64', '--batch', '2']);
  assert.equal(asked.plan.options.context, 64);
  assert.equal(asked.plan.options.batch, 2);
  const ckpt = join(dir, 'big-asked', 'checkpoints', readdirSync(join(dir, 'big-asked', 'checkpoints'))[0]);
  assert.equal(
    JSON.parse(readFileSync(join(ckpt, 'config.json'), 'utf8')).n_positions,
    512,
    'full fine-tuning on short windows writes the whole model',
  );
  const resumed = cli(['train', text, '--resume', join(dir, 'big-asked'), '--max-steps', '3', '--backend', 'wasm', '--json']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(
    (events(resumed.stdout)[0] as { plan: { options: { context?: number } } }).plan.options.context,
    64,
    'resume keeps the window',
  );
  assertUserError(
    ['finetune', base, text, '-o', join(dir, 'big-x'), '--context', '1024'],
    /--context must be a whole number from 1 to the model's context, 512 \(got 1024\)/,
  );
  assert.ok(!existsSync(join(dir, 'big-x')));
});

test("finetune on a small base keeps its context and the base run's batch", () => {
  const english = writeText('en4.txt', readFileSync(ENGLISH_FILE, 'utf8').slice(0, 6000));
  const base = join(dir, 'char-base4');
  assert.equal(cli(['train', english, '-o', base, ...SMALL, '--max-steps', '2', '--backend', 'wasm']).code, 0);
  const r = cli(['finetune', base, english, '-o', join(dir, 'small-ft'), '--max-steps', '1', '--backend', 'wasm', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const plan = (
    events(r.stdout).find((e) => e.type === 'start') as {
      plan: { model: { context: number }; options: { context?: number; batch: number } };
    }
  ).plan;
  assert.equal(plan.model.context, 16);
  assert.equal(plan.options.context, undefined);
  assert.equal(plan.options.batch, 4);
});
