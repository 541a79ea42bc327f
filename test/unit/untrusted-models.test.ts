// Models and run files that were damaged or mixed up: each refused at load, naming the file, before
// anything is written (issue 18: non-finite weights, a tokenizer that does not fit, unreadable
// metrics.jsonl, a tampered batch on resume, error text over several lines, oversized tokenizers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  cpSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { runTrainJob, TrainRequest } from '../../src/worker/jobs/train-job';
import { runQuantizeJob } from '../../src/worker/jobs/quantize-job';
import { runFinetuneJob } from '../../src/worker/jobs/finetune-job';
import { loadModel } from '../../src/worker/jobs/load-model';
import { exportTorch } from '../../src/core/export-torch/export-torch';
import { mergeAdapter } from '../../src/core/export-folder';
import { readCheckpoint, resolveCheckpoint } from '../../src/core/checkpoint';
import { readMetrics, readMetricsAsync } from '../../src/core/metrics';
import { readModelFolder } from '../../src/core/model-folder';
import { encodeSafetensors, readSafetensors } from '../../src/core/safetensors';
import { adapterFiles, baseRecord, loraModuleShapes, matchTargets } from '../../src/core/lora-adapter';
import { writeDirAtomic } from '../../src/core/atomic-write';
import { Tokenizer, trainTokenizer } from '../../src/core/tokenizer';
import { fromGpt2ConfigJson } from '../../src/core/gpt2-config';
import { oneLine } from '../../src/core/errors';
import { CLI, KOREAN, TINY_MODEL, tempDir, userError } from './helpers';

const root = tempDir();
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

async function train(req: Partial<TrainRequest> & { runDir: string }) {
  return runTrainJob(
    { ...TINY_MODEL, corpusPath: KOREAN, maxSteps: 2, ...req },
    () => {},
    () => false,
  );
}

const finetune = (base: string, runDir: string) =>
  runFinetuneJob(
    { basePath: base, corpusPath: KOREAN, runDir, maxSteps: 1, backend: 'wasm' },
    () => {},
    () => false,
  );

let trained: string | undefined;
/** A finished two-step run, copied fresh for each test that damages it. */
async function freshRun(name: string): Promise<{ run: string; ckpt: string }> {
  if (!trained) {
    trained = join(root, 'trained');
    await train({ runDir: trained });
  }
  const run = join(root, name);
  cpSync(trained, run, { recursive: true });
  // The checkpoint path inside run.json/trainer_state.json is not absolute: the copy stands alone.
  return { run, ckpt: resolveCheckpoint(run) };
}

/** Rewrites one safetensors file with `value` at `index` of `tensor`. */
function poke(file: string, tensor: string, index: number, value: number, metadata: Record<string, string>): void {
  const tensors = readSafetensors(file).tensors;
  tensors.get(tensor)!.data[index] = value;
  writeFileSync(file, encodeSafetensors(tensors, metadata));
}

const runJsonOf = (run: string) => readFileSync(join(run, 'run.json'), 'utf8');

test('NaN or ±Inf in weights or optimizer moments: every command refuses the model, naming the file and tensor, and writes nothing', async () => {
  const { run, ckpt } = await freshRun('nan');
  poke(join(ckpt, 'model.safetensors'), 'transformer.h.0.attn.c_attn.weight', 5, NaN, { format: 'pt' });
  const named = userError(/model\.safetensors: tensor transformer\.h\.0\.attn\.c_attn\.weight holds NaN \(value 5 of \d+\)/);
  await assert.rejects(loadModel(run, 'wasm'), named); // eval, generate, next token, attention
  assert.throws(() => exportTorch(run, join(root, 'nan-export')), named);
  assert.equal(existsSync(join(root, 'nan-export')), false);
  await assert.rejects(runQuantizeJob({ checkpoint: run, out: join(root, 'nan-int8'), scheme: 'channel', backend: 'wasm' }), named);
  assert.equal(existsSync(join(root, 'nan-int8')), false, 'no output folder');
  const before = runJsonOf(run);
  await assert.rejects(train({ runDir: run, resume: run, maxSteps: 4 }), named);
  assert.equal(runJsonOf(run), before, 'run.json untouched');
  await assert.rejects(finetune(run, join(root, 'nan-finetune')), named);
  assert.equal(existsSync(join(root, 'nan-finetune')), false);

  const moments = await freshRun('inf-moments');
  poke(join(moments.ckpt, 'optimizer.safetensors'), 'v.transformer.wte.weight', 0, -Infinity, { format: 'corpus-lab-adamw' });
  await assert.rejects(
    train({ runDir: moments.run, resume: moments.run, maxSteps: 4 }),
    userError(/optimizer\.safetensors: tensor v\.transformer\.wte\.weight holds -Infinity/),
  );
});

test('a LoRA adapter with a NaN tensor or lora_alpha 1e308 is refused at load; merge writes no folder', async () => {
  const { ckpt } = await freshRun('adapter-base');
  const config = readCheckpoint(ckpt, { withOptimizer: false }).config;
  const shapes = loraModuleShapes(config);
  const layers = new Map(
    matchTargets(config, ['c_attn']).map((m) => {
      const [inDim, outDim] = shapes.get(m)!;
      return [
        m,
        {
          a: { shape: [2, inDim], data: new Float32Array(2 * inDim).fill(0.01) },
          b: { shape: [outDim, 2], data: new Float32Array(outDim * 2).fill(0.01) },
        },
      ];
    }),
  );
  const adapter = (name: string, alpha: number) => {
    const dir = join(root, name);
    writeDirAtomic(
      dir,
      adapterFiles(
        { settings: { r: 2, alpha, rslora: false, targets: ['c_attn'], dropout: 0 }, layers },
        baseRecord(ckpt, 'model.safetensors'),
      ),
    );
    return dir;
  };
  readModelFolder(adapter('adapter-ok', 4)); // the same adapter with a sane alpha loads

  const huge = adapter('adapter-alpha', 1e308);
  assert.throws(
    () => mergeAdapter(huge, join(root, 'merged-alpha'), () => 'char'),
    userError(/lora_alpha must be a positive number up to 1000000 \(got 1e\+308\)/),
  );
  assert.equal(existsSync(join(root, 'merged-alpha')), false);

  const nan = adapter('adapter-nan', 4);
  const weights = join(nan, 'adapter_model.safetensors');
  const tensors = readSafetensors(weights).tensors;
  tensors.values().next().value!.data[3] = NaN;
  writeFileSync(weights, encodeSafetensors(tensors, { format: 'pt' }));
  assert.throws(
    () => mergeAdapter(nan, join(root, 'merged-nan'), () => 'char'),
    userError(/adapter_model\.safetensors: tensor .*lora_[AB]\.weight holds NaN/),
  );
  assert.equal(existsSync(join(root, 'merged-nan')), false);
});

test('a tokenizer that does not fit the model (fewer tokens, more, or another run’s) is refused at load by every command', async () => {
  const { run, ckpt } = await freshRun('tok');
  const own = Tokenizer.fromJSON(readFileSync(join(ckpt, 'tokenizer.json'), 'utf8'));
  const text = readFileSync(KOREAN, 'utf8');
  const fewer = trainTokenizer(text.slice(0, 200), { kind: 'char' });
  const more = trainTokenizer(text + 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', { kind: 'char' });
  assert.ok(fewer.vocabSize < own.vocabSize && more.vocabSize > own.vocabSize);
  const before = runJsonOf(run);
  for (const other of [fewer, more]) {
    writeFileSync(join(ckpt, 'tokenizer.json'), other.toJSON());
    const refused = userError(
      new RegExp(`tokenizer\\.json has ${other.vocabSize} tokens but the model has ${own.vocabSize} \\(its embedding rows\\)`),
    );
    await assert.rejects(train({ runDir: run, resume: run, maxSteps: 4 }), refused);
    assert.equal(runJsonOf(run), before, 'run.json untouched');
    assert.throws(() => exportTorch(run, join(root, 'tok-export')), refused);
    await assert.rejects(loadModel(run, 'wasm'), refused);
    await assert.rejects(finetune(run, join(root, 'tok-finetune')), refused);
  }
  // As many tokens, other characters: the run's tokenizer (run.json's sha256) it is not.
  const chars = JSON.parse(own.toJSON());
  const vocab = chars.model.vocab as Record<string, number>;
  const [first] = Object.keys(vocab).filter((t) => t.length === 1 && t !== ' ' && t !== '\n' && vocab[t] > 1);
  vocab['Ω'] = vocab[first];
  delete vocab[first];
  writeFileSync(join(ckpt, 'tokenizer.json'), JSON.stringify(chars));
  const swapped = userError(/tokenizer\.json is not the tokenizer this run started with/);
  await assert.rejects(train({ runDir: run, resume: run, maxSteps: 4 }), swapped);
  assert.throws(() => exportTorch(run, join(root, 'tok-export')), swapped);
  assert.equal(runJsonOf(run), before);
});

test('metrics.jsonl that is a folder, a link to /dev/zero or too large is refused at once (a FIFO too, through the CLI)', async () => {
  const { run } = await freshRun('metrics');
  const metrics = join(run, 'metrics.jsonl');
  assert.ok(readMetrics(run).length > 0);
  rmSync(metrics);
  mkdirSync(metrics);
  assert.throws(() => readMetrics(run), userError(/metrics\.jsonl is a folder, not a file/));
  await assert.rejects(readMetricsAsync(run), userError(/metrics\.jsonl is a folder, not a file/));
  rmSync(metrics, { recursive: true });
  symlinkSync('/dev/zero', metrics);
  assert.throws(() => readMetrics(run), userError(/metrics\.jsonl is not a regular file \(a pipe, socket or device\)/));
  rmSync(metrics);
  const fd = openSync(metrics, 'w');
  ftruncateSync(fd, 300 * 1024 * 1024);
  closeSync(fd);
  const t0 = performance.now();
  assert.throws(() => readMetrics(run), userError(/metrics\.jsonl is 300 MB, over the 256 MB limit for this file/));
  assert.ok(performance.now() - t0 < 1000, 'refused without reading it');
  rmSync(metrics);
  spawnSync('mkfifo', [metrics]);
  // A FIFO blocks a synchronous read forever, so this runs in a child that is killed if it waits.
  for (const args of [
    ['export-torch', run, '-o', join(root, 'fifo-export')],
    ['train', KOREAN, '--resume', run, '--max-steps', '4', '--backend', 'wasm'],
  ]) {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.signal, null, `${args[0]} waited on the FIFO`);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^corpus-lab: .*metrics\.jsonl is not a regular file \(a pipe, socket or device\): refusing to read it\n$/);
  }
});

test('resume of a run whose trainer_state.json was edited to batch 4096 is refused by the memory check new runs get', async () => {
  // Context 256: at batch 4096 the activations alone need ~16 GB, more than any backend here has.
  const run = join(root, 'batch');
  await train({ runDir: run, context: 256, batch: 2, maxSteps: 1 });
  const statePath = join(resolveCheckpoint(run), 'trainer_state.json');
  const state = JSON.parse(readFileSync(statePath, 'utf8'));
  state.plan.options.batch = 4096;
  writeFileSync(statePath, JSON.stringify(state));
  const before = runJsonOf(run);
  await assert.rejects(
    train({ runDir: run, resume: run, maxSteps: 2 }),
    userError(/this configuration needs about \d+(\.\d)? GB to train/),
  );
  assert.equal(runJsonOf(run), before, 'run.json untouched');
  state.plan.options.batch = 4097; // past what --batch accepts
  writeFileSync(statePath, JSON.stringify(state));
  await assert.rejects(
    train({ runDir: run, resume: run, maxSteps: 2 }),
    userError(/batch must be a whole number from 1 to 4096 \(got 4097\)/),
  );
});

test('error text stays on one line: a config.json with a byte-order mark, JSON errors, any message the CLI prints', () => {
  const config = JSON.stringify({ model_type: 'gpt2', n_layer: 1, n_head: 2, n_embd: 32, vocab_size: 10, n_positions: 16 }, null, 2);
  assert.throws(
    () => fromGpt2ConfigJson('\ufeff' + config, 'config.json'),
    (e: Error) =>
      userError(/^config\.json starts with a byte-order mark, which Hugging Face tools refuse: save it as UTF-8 without BOM$/)(e),
  );
  assert.throws(
    () => fromGpt2ConfigJson(config.replace('"n_layer": 1', '"n_layer" 1'), 'config.json'),
    (e: Error) => userError(/^config\.json: not valid JSON \(Unexpected number at line 3, column 13\)$/)(e),
  );
  assert.throws(
    () => fromGpt2ConfigJson(config.replace('1,', 'tru,'), 'config.json'),
    (e: Error) => !e.message.includes('\n') && !e.message.includes('n_head'),
  );
  assert.equal(oneLine('a\nb\r\n\tc\u2028d\u0000'), 'a b c d');
  assert.equal(oneLine('x'.repeat(5000)).length, 1000);

  const dir = join(root, 'bom');
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), '\ufeff' + config);
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(new Map(), { format: 'pt' }));
  writeFileSync(join(dir, 'tokenizer.json'), trainTokenizer('abcdefghi', { kind: 'char' }).toJSON());
  const r = spawnSync(process.execPath, [CLI, 'generate', dir, '--max-tokens', '1'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^corpus-lab: [^\n]*config\.json starts with a byte-order mark[^\n]*\n$/);
});

test('tokenizer.json: over 64 MB is refused within a second, over a million vocabulary entries before it is built', () => {
  const big = join(root, 'big-tokenizer.json');
  const fd = openSync(big, 'w');
  ftruncateSync(fd, 200 * 1024 * 1024);
  closeSync(fd);
  const t0 = performance.now();
  assert.throws(() => Tokenizer.load(big), userError(/big-tokenizer\.json is 200 MB, over the 64 MB limit for this file/));
  assert.ok(performance.now() - t0 < 1000);

  // Counted once parsed (a 1.1-million-entry file is 18 MB): refused before the tokenizer library builds it.
  const vocab: Record<string, number> = {};
  for (let i = 0; i < 1_100_000; i++) vocab[`t${i}`] = i;
  const json = JSON.stringify({ model: { type: 'WordLevel', vocab, unk_token: 't0' } });
  assert.throws(
    () => Tokenizer.fromJSON(json, 'huge.json'),
    userError(/^huge\.json: model\.vocab has 1100000 entries, more than the 1048576 Corpus Lab reads$/),
  );
});
