import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// quantize and merge as a user runs them (dist/cli.js; `npm run build` first), on a Korean run.
const REPO = join(__dirname, '../../..');
const CLI = join(REPO, 'dist/cli.js');
const KOREAN = join(REPO, 'media/samples/constitution-ko.txt');
const SMALL = ['--layers', '1', '--heads', '2', '--width', '32', '--context', '16', '--batch', '4'];
const dir = mkdtempSync(join(tmpdir(), 'corpus-lab-cli-ft-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', timeout: 180_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function assertUserError(args: string[], re: RegExp) {
  const r = cli(args);
  assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^corpus-lab: /);
  assert.match(lines[0], re);
}

test('quantize: int8 checkpoint + report on the run\'s held-out text; eval and generate load it; bad input is one line, exit 2', () => {
  const run = join(dir, 'run');
  const train = cli(['train', KOREAN, '-o', run, ...SMALL, '--tokenizer', 'bpe', '--vocab-size', '400', '--max-steps', '40', '--backend', 'wasm', '--json']);
  assert.equal(train.code, 0, train.stderr);
  const out = join(dir, 'int8');
  const r = cli(['quantize', run, '-o', out, '--json', '--backend', 'wasm']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
  for (const k of ['bytes_fp32', 'bytes_int8', 'loss_fp32', 'loss_int8', 'top1_agreement', 'kl']) assert.equal(typeof report[k], 'number', k);
  assert.ok(report.bytes_int8 < report.bytes_fp32);
  assert.ok(report.loss_fp32 > 1 && Math.abs(report.loss_int8 - report.loss_fp32) < 0.05, JSON.stringify(report));
  assert.ok(report.top1_agreement > 0.9 && report.top1_agreement <= 1);
  assert.ok(report.kl >= 0 && report.kl < 0.01);
  assert.match(report.eval_text, /held-out/);
  assert.deepEqual(readdirSync(out).sort(), ['config.json', 'generation_config.json', 'model-int8.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
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
  assert.match(q8.stderr, /int8 \(q8_0\) checkpoint/);
  assert.match(q8.stderr, /top-1 +\d+\.\d+%/);
  assert.ok(!existsSync(join(dir, 'x')));
  assertUserError(['merge', run, '-o', join(dir, 'merged')], /is not a LoRA adapter/);
  assertUserError(['merge', run], /-o OUT_DIR is required/);
});
