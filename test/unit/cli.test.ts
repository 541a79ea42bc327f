import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, readdirSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors } from '../../src/core/safetensors';
import { COMMANDS } from '../../src/cli/options';
import { AUTO_BACKEND, CLI, ENGLISH, KOREAN, REPO, assertCliUserError, runCli } from './helpers';

// These run the built CLI (dist/cli.js) as a user would; `npm test` builds it first.
const SMALL = ['--layers', '1', '--heads', '2', '--width', '32', '--context', '16', '--batch', '4'];
const dir = mkdtempSync(join(tmpdir(), 'corpus-lab-cli-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const cli = (args: string[], cwd = dir) => runCli(args, cwd);

function file(name: string, data: string | Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

const assertUserError = (args: string[], re: RegExp) => assertCliUserError(args, dir, re);

test('clean --json and -o: report counts, atomic output, Korean intact', () => {
  const src = file('messy.txt', '# 제목\r\n\r\n\r\n\r\n안녕하세요\u200B  \r\n');
  const r = cli(['clean', src, '--json', '--rules', 'markup']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.text, '제목\n\n안녕하세요\n');
  assert.equal(out.report.steps.find((s: { rule: string }) => s.rule === 'invisible').count, 1);
  const o = join(dir, 'cleaned.txt');
  assert.equal(cli(['clean', src, '-o', o]).code, 0);
  assert.equal(readFileSync(o, 'utf8'), '# 제목\n\n안녕하세요\n');
});

test('tokenize and encode: tokenizer.json written; ids agree with the tokenizer', () => {
  const out = join(dir, 'tok');
  const r = cli(['tokenize', KOREAN, '-o', out, '--kind', 'bpe', '--vocab-size', '500', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.vocab_size, 500);
  assert.ok(summary.chars_per_token > 1);
  const text = file('short-ko.txt', '대한민국은 민주공화국이다.');
  const enc = cli(['encode', join(out, 'tokenizer.json'), text, '--json']);
  assert.equal(enc.code, 0, enc.stderr);
  const { ids } = JSON.parse(enc.stdout);
  assert.ok(Array.isArray(ids) && ids.length > 0 && ids.length < Buffer.byteLength('대한민국은 민주공화국이다.'));
  assert.equal(JSON.parse(cli(['tokenize', ENGLISH, '-o', join(dir, 'tokc'), '--json']).stdout).kind, 'char');
});

test('train --json streams prepare/start/step/eval/checkpoint/done; generate and eval read the run', () => {
  const run = join(dir, 'run-ko');
  // A cache of its own: the text is prepared by this run, so its 'prepare' events come first.
  process.env.CORPUS_LAB_CACHE = join(dir, 'cache-run-ko');
  const r = cli(['train', KOREAN, '-o', run, ...SMALL, '--max-steps', '12', '--eval-every', '6', '--seed', '3', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const events = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual([...new Set(events.map((e) => e.type))], ['prepare', 'start', 'step', 'eval', 'checkpoint', 'done']);
  const step = events.find((e) => e.type === 'step');
  for (const k of ['step', 'epoch', 'loss', 'lr', 'tokens_per_s']) assert.equal(typeof step[k], 'number', k);
  assert.equal(typeof events.find((e) => e.type === 'eval').val_loss, 'number');
  assert.equal(events.at(-1).type, 'done');
  for (const f of ['run.json', 'metrics.jsonl', 'tokenizer.json']) assert.ok(existsSync(join(run, f)), f);
  const run2 = JSON.parse(readFileSync(join(run, 'run.json'), 'utf8'));
  assert.equal(run2.status, 'completed');
  assert.equal(run2.backend.name, AUTO_BACKEND);

  const g = cli(['generate', run, '--prompt', '대한민국', '--max-tokens', '10', '--seed', '1', '--json']);
  assert.equal(g.code, 0, g.stderr);
  const gen = JSON.parse(g.stdout);
  assert.equal(gen.tokens, 10);
  assert.equal(typeof gen.text, 'string');
  assert.equal(
    JSON.parse(cli(['generate', run, '--prompt', '대한민국', '--max-tokens', '10', '--seed', '1', '--json']).stdout).text,
    gen.text,
  );
  const plain = cli(['generate', run, '--prompt', '대한', '--max-tokens', '5']);
  assert.equal(plain.code, 0);
  assert.ok(plain.stdout.startsWith('대한'));

  const e = cli(['eval', run, KOREAN, '--json']);
  assert.equal(e.code, 0, e.stderr);
  const ev = JSON.parse(e.stdout);
  assert.ok(ev.loss > 0 && ev.loss < 10);
  assert.ok(ev.tokens > 1000);
  // Without --json the same result, in words, also on stdout (so `> file` keeps it).
  const words = cli(['eval', run, KOREAN]);
  assert.equal(words.code, 0, words.stderr);
  assert.match(words.stdout, new RegExp(`^loss ${ev.loss.toFixed(4)} nats/token .* over ${ev.tokens} tokens`));
  assert.match(words.stdout, /bits per character .* bits per UTF-8 byte/);
});

test('Ctrl-C during train writes a checkpoint and exits 130; --resume finishes the run', async () => {
  const run = join(dir, 'run-int');
  const child = spawn(process.execPath, [CLI, 'train', ENGLISH, '-o', run, ...SMALL, '--max-steps', '100000', '--json'], { cwd: dir });
  let out = '';
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"step":5,') && !child.killed) {
        child.kill('SIGINT');
        resolve();
      }
    });
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 130);
  const events = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const done = events.at(-1);
  assert.equal(done.type, 'done');
  assert.equal(done.reason, 'cancelled');
  assert.ok(existsSync(join(done.checkpoint, 'model.safetensors')));
  // Without FILE, --resume continues on the text run.json names (not the bundled sample).
  const r = cli(['train', '--resume', run, '--max-steps', String(done.step + 3), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const resumed = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(resumed[0].resumed_from, done.checkpoint);
  assert.deepEqual(
    resumed.filter((e) => e.type === 'step').map((e) => e.step),
    [done.step + 1, done.step + 2, done.step + 3],
  );
  // A checkpoint outside its run folder names no corpus: FILE is asked for.
  const loose = join(dir, 'loose-checkpoint');
  cpSync(done.checkpoint, loose, { recursive: true });
  assertUserError(['train', '--resume', loose], /no run\.json\): pass FILE/);
});

test('bench --json prints the contract fields', () => {
  const r = cli(['bench', '--steps', '2', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const b = JSON.parse(r.stdout);
  for (const k of ['ms_per_step', 'tokens_per_s', 'backend', 'threads', 'params']) assert.ok(k in b, k);
  assert.equal(b.params, 809_856);
  assert.equal(b.backend, AUTO_BACKEND);
});

test('bench --profile: one step by kernel, only real kernels counted, our kernels in use on wasm', () => {
  const r = cli(['bench', '--steps', '1', '--profile', '--json', '--backend', 'wasm']);
  assert.equal(r.code, 0, r.stderr);
  const p = JSON.parse(r.stdout).profile;
  const names = p.byKernel.map((k: { kernel: string }) => k.kernel);
  assert.ok(names.includes('BatchMatMul'));
  // composite scopes (customGrad's "forward") would count their kernels twice
  assert.ok(!names.includes('forward'), names.join(','));
  // GELU, layer norm and softmax run in our kernels, so tfjs's Tanh, Rsqrt and Softmax never do
  for (const k of ['Tanh', 'Rsqrt', 'Softmax']) assert.ok(!names.includes(k), `${k} ran: ${names.join(',')}`);
  assert.equal(
    p.kernelCalls,
    p.byKernel.reduce((n: number, k: { calls: number }) => n + k.calls, 0),
  );
  assert.ok(p.kernelMs > 0 && p.kernelMs < p.wallMs, `${p.kernelMs} of ${p.wallMs} ms`);
  // our own kernels run outside tfjs's: listed by name, not counted as JavaScript
  const own = p.byOwnKernel.map((k: { kernel: string }) => k.kernel);
  for (const k of ['attentionForward', 'attentionBackward', 'layerNormBackward', 'adamwUpdate'])
    assert.ok(own.includes(k), `${k}: ${own.join(',')}`);
  assert.ok(p.kernelMs + p.ownKernelMs < p.wallMs, `${p.kernelMs} + ${p.ownKernelMs} of ${p.wallMs} ms`);
});

test('bad input: one clear line on stderr, exit 2, nothing half-written', () => {
  mkdirSync(join(dir, 'a-folder'), { recursive: true });
  const tooShort = file('short.txt', 'hello world, a short text.');
  assertUserError(['train', join(dir, 'nope.txt')], /no such file/);
  assertUserError(['train', join(dir, 'a-folder')], /a-folder has no \.txt or \.md documents to train on/);
  assertUserError(['train', file('empty.txt', '')], /is empty/);
  assertUserError(['train', file('bin.dat', Buffer.from([1, 2, 0, 3]))], /binary file/);
  assertUserError(['train', file('bad.txt', Buffer.from([0x41, 0xff]))], /not valid UTF-8/);
  assertUserError(['train', tooShort, '-o', join(dir, 'never')], /too few for context 64.*--context 8/);
  assertUserError(['train', ENGLISH, '--preset', 'huge'], /unknown preset "huge"/);
  assertUserError(['train', ENGLISH, '--max-steps', '-5'], /max steps must be a whole number from 1 .*got -5/);
  assertUserError(['train', ENGLISH, '--lr', '-1'], /learning rate must be a number above 0/);
  assertUserError(['train', ENGLISH, '--max-steps', '0'], /max steps must be a whole number from 1/);
  assertUserError(['train', ENGLISH, '--lr', 'NaN'], /--lr must be a number/);
  assertUserError(['train', ENGLISH, '--epochs', 'abc'], /--epochs must be a number/);
  assertUserError(['train', ENGLISH, '--batch', '2.5'], /--batch must be a whole number/);
  assertUserError(['train', ENGLISH, '--tokenizer', 'word'], /--tokenizer must be one of char, bpe/);
  assertUserError(['train', ENGLISH, '--threads', '65'], /threads must be a whole number from 1 to 64 \(got 65\)/);
  assertUserError(['bench', '--threads', '0'], /threads must be a whole number from 1 to 64 \(got 0\)/);
  assertUserError(['train', ENGLISH, '--bogus'], /Unknown option '--bogus'/);
  assertUserError(['frobnicate'], /unknown command "frobnicate"/);
  assertUserError(['generate', join(dir, 'a-folder')], /has no checkpoints yet/);
  assertUserError(['generate'], /missing CHECKPOINT_OR_RUN/);
  assertUserError(['tokenize', ENGLISH], /-o DIR is required/);
  assertUserError(['generate', join(dir, 'run-ko'), '--temperature', '-1'], /temperature/);
  assert.ok(!existsSync(join(dir, 'never')) || readdirSync(join(dir, 'never')).length === 0);
});

test('a damaged or mismatched checkpoint is refused, not half-loaded', () => {
  const run = join(dir, 'run-bad');
  assert.equal(cli(['train', KOREAN, '-o', run, ...SMALL, '--max-steps', '2', '--json']).code, 0);
  const ckpt = join(run, 'checkpoints', readdirSync(join(run, 'checkpoints'))[0]);
  const model = readFileSync(join(ckpt, 'model.safetensors'));
  writeFileSync(join(ckpt, 'model.safetensors'), model.subarray(0, model.length - 10));
  assertUserError(['generate', ckpt], /model\.safetensors: .*(cover|outside)/);
  writeFileSync(join(ckpt, 'model.safetensors'), encodeSafetensors(new Map([['x', { shape: [1], data: new Float32Array(1) }]])));
  assertUserError(['generate', ckpt], /missing \d+ tensor/);
  writeFileSync(join(ckpt, 'model.safetensors'), model);
  const tok = JSON.parse(readFileSync(join(ckpt, 'tokenizer.json'), 'utf8'));
  delete tok.model.vocab[Object.keys(tok.model.vocab).at(-1)!];
  writeFileSync(join(ckpt, 'tokenizer.json'), JSON.stringify(tok));
  assertUserError(['generate', ckpt], /tokenizer\.json has \d+ tokens but the model has \d+ \(its embedding rows\)/);
  assertUserError(['train', ENGLISH, '--resume', run], /not the corpus this checkpoint was trained on|tokenizer/);
});

test('every command answers --help with its usage and each of its options (exit 0); the README shows `corpus-lab help`', () => {
  const usage = cli(['help']);
  assert.equal(usage.code, 0);
  for (const [command, spec] of Object.entries(COMMANDS)) {
    const r = cli([command, '--help']);
    assert.equal(r.code, 0, `${command} --help → ${r.code}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^usage: corpus-lab ${command}\\b`));
    for (const option of spec.options) assert.match(r.stdout, new RegExp(`--${option}\\b`), `${command} --help lists --${option}`);
    assert.ok(usage.stdout.includes(`corpus-lab ${command}`), command);
  }
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  assert.ok(
    readme.includes('```\n' + usage.stdout + '```'),
    'README.md holds the output of `corpus-lab help` in a code block (regenerate it)',
  );
});

test('--bias false: trains without biases, reads back as GPT-2 with zero biases, and is refused when not true|false', () => {
  const run = join(dir, 'run-nobias');
  const r = cli(['train', KOREAN, '-o', run, ...SMALL, '--max-steps', '3', '--bias', 'false', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const start = JSON.parse(r.stdout.split('\n')[0]);
  assert.equal(start.plan.model.bias, false);
  const withBias = JSON.parse(
    cli(['train', KOREAN, '-o', join(dir, 'run-bias'), ...SMALL, '--max-steps', '1', '--json']).stdout.split('\n')[0],
  );
  assert.ok(start.params < withBias.params, `${start.params} < ${withBias.params}`);
  const ckpt = readdirSync(join(run, 'checkpoints')).map((n) => join(run, 'checkpoints', n))[0];
  assert.equal(JSON.parse(readFileSync(join(ckpt, 'config.json'), 'utf8')).corpus_lab.bias, false);
  assert.equal(cli(['generate', run, '--prompt', '대한', '--max-tokens', '5']).code, 0);
  assertUserError(['train', KOREAN, '--bias', 'no'], /--bias must be true or false \(got "no"\)/);
});
