import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanText } from '../../src/core/clean';
import { readRunJson } from '../../src/core/run-json';
import { Tokenizer } from '../../src/core/tokenizer';
import { KOREAN, assertCliUserError, runCli, tempDir } from './helpers';

const SHAPE = ['--layers', '1', '--heads', '2', '--width', '32', '--context', '16', '--batch', '4', '--backend', 'wasm'];

test('train --clean --rules trains on the cleaned text, records the rules in run.json, and a resume cleans the same way', () => {
  const dir = tempDir();
  const env = { CORPUS_LAB_CACHE: join(dir, 'cache') };
  Object.assign(process.env, env);
  const file = join(dir, 'notes.md');
  const text = '---\ntitle: x\n---\n' + readFileSync(KOREAN, 'utf8').slice(0, 3000).replace(/\n/g, '\n<!-- 주석\n-->\n');
  writeFileSync(file, text);
  const run = join(dir, 'run');
  const r = runCli(['train', file, '-o', run, ...SHAPE, '--max-steps', '2', '--clean', '--rules', 'markup,front-matter'], dir);
  assert.equal(r.code, 0, r.stderr);
  const json = readRunJson(run);
  assert.deepEqual(json.corpus.clean, ['front-matter', 'markup']);
  const cleaned = cleanText(text, { markup: true, 'front-matter': true }).text;
  assert.equal(json.plan.trainTokens + json.plan.valTokens, [...cleaned].length, 'a char per token of the cleaned text');
  // Uncleaned, the same text is another preparation with more tokens.
  const plain = join(dir, 'plain');
  assert.equal(runCli(['train', file, '-o', plain, ...SHAPE, '--max-steps', '2'], dir).code, 0);
  assert.equal(readRunJson(plain).corpus.clean, undefined);
  assert.equal(readRunJson(plain).plan.trainTokens + readRunJson(plain).plan.valTokens, [...text].length);
  // A resume prepares the text as its run did; asking for another cleaning is refused.
  assertCliUserError(
    ['train', '--resume', run, '--max-steps', '4', '--clean'],
    dir,
    /a resume prepares the text as its run did \(cleaned with front-matter, markup\)/,
  );
  assertCliUserError(
    ['train', '--resume', plain, '--max-steps', '4', '--rules', 'urls'],
    dir,
    /a resume prepares the text as its run did \(as it is\)/,
  );
  const resumed = runCli(['train', '--resume', run, '--max-steps', '4'], dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(readRunJson(run).step, 4);
  assert.deepEqual(readRunJson(run).corpus.clean, ['front-matter', 'markup']);
  // export-torch writes the ids the run trained from: those of the cleaned text.
  const exported = runCli(['export-torch', run, '-o', join(dir, 'exported'), '--json'], dir);
  assert.equal(exported.code, 0, exported.stderr);
  const ids = new Uint16Array(readFileSync(join(dir, 'exported', 'train.bin')).buffer.slice(0));
  const trained = readRunJson(run).plan.trainTokens;
  assert.equal(ids.length, trained);
  const tokenizer = Tokenizer.fromJSON(readFileSync(join(run, 'tokenizer.json'), 'utf8'), run);
  assert.deepEqual(Array.from(ids), Array.from(tokenizer.encodeAll(cleaned)).slice(0, trained));
});
