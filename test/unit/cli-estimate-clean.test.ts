import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanText } from '../../src/core/clean';
import { readRunJson } from '../../src/core/run-json';
import { KOREAN, assertCliUserError, jsonLines, runCli, tempDir } from './helpers';

const SHAPE = ['--context', '16', '--batch', '4', '--backend', 'wasm'];

test('estimate --clean --rules counts the cleaned text as train --clean prepares it, and the run reuses that preparation', () => {
  const dir = tempDir();
  const cache = join(dir, 'cache');
  Object.assign(process.env, { CORPUS_LAB_CACHE: cache });
  const file = join(dir, 'notes.md');
  const text = '---\ntitle: x\n---\n' + readFileSync(KOREAN, 'utf8').slice(0, 3000).replace(/\n/g, '\n<!-- 주석\n-->\n');
  writeFileSync(file, text);
  const estimate = (...extra: string[]) => {
    const r = runCli(['estimate', file, ...SHAPE, '--steps', '0', '--json', ...extra], dir);
    assert.equal(r.code, 0, r.stderr);
    return jsonLines(r.stdout).at(-1) as { tokens: number };
  };
  const cleaned = cleanText(text, { markup: true, 'front-matter': true }).text;
  const plain = estimate();
  assert.equal(plain.tokens, [...text].length);
  const clean = estimate('--clean', '--rules', 'markup,front-matter');
  assert.equal(clean.tokens, [...cleaned].length, 'a char per token of the cleaned text');
  assert.ok(clean.tokens < plain.tokens);
  // A BPE estimate, whose tokenizer is not trained for it, counts a third of the cleaned text's bytes.
  const bpe = estimate('--tokenizer', 'bpe', '--clean', '--rules', 'markup,front-matter');
  assert.equal(bpe.tokens, Math.round(Buffer.byteLength(cleaned) / 3));
  const prepared = readdirSync(join(cache, 'prepared')).length;
  const run = join(dir, 'run');
  const r = runCli(
    [
      'train',
      file,
      '-o',
      run,
      '--layers',
      '1',
      '--heads',
      '2',
      '--width',
      '32',
      ...SHAPE,
      '--max-steps',
      '1',
      '--rules',
      'markup,front-matter',
    ],
    dir,
  );
  assert.equal(r.code, 0, r.stderr);
  const plan = readRunJson(run).plan;
  assert.equal(plan.trainTokens + plan.valTokens, clean.tokens, "the estimate's tokens are the run's");
  assert.equal(readdirSync(join(cache, 'prepared')).length, prepared, 'the run prepared nothing the estimate had not');
  assertCliUserError(['estimate', file, '--finetune', run, '--clean'], dir, /--clean and --rules .* leave them out with --finetune/);
});
