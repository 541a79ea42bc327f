import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { Tokenizer, trainTokenizer } from '../../src/core/tokenizer';
import { CLI, ENGLISH, KOREAN, tempDir, userError } from './helpers';

const TEXT = readFileSync(KOREAN, 'utf8').slice(0, 4000) + readFileSync(ENGLISH, 'utf8').slice(0, 4000);
const bpeJson = JSON.parse(trainTokenizer(TEXT, { kind: 'bpe', vocabSize: 600 }).toJSON());
const split = (regex: string) => ({ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false });
const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false };
const withPre = (pre_tokenizer: object) => ({ ...bpeJson, pre_tokenizer });
// A pattern that backtracks exponentially on "aaa…a!" (2^40 ways to split the a's).
const CATASTROPHIC = withPre({ type: 'Sequence', pretokenizers: [split('(a+)+$'), byteLevel] });

test('a tokenizer.json whose pattern backtracks without end: encode stops with one clear line instead of hanging', () => {
  const dir = tempDir();
  try {
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(CATASTROPHIC));
    writeFileSync(join(dir, 'text.txt'), 'a'.repeat(40) + '!\n');
    const started = Date.now();
    const r = spawnSync(process.execPath, [CLI, 'encode', 'tokenizer.json', 'text.txt'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.error, undefined, 'encode hung and was killed');
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /the pattern "\(a\+\)\+\$" did not finish within 1(\.\d+)? s on a text of 42 characters/);
    assert.ok(Date.now() - started < 30_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the time limit is a UserError in-process too, and the tokenizer keeps working on other text', () => {
  const tok = Tokenizer.fromJSON(JSON.stringify(CATASTROPHIC), 'evil/tokenizer.json');
  assert.throws(() => tok.encode('a'.repeat(40) + '!'), userError(/^evil\/tokenizer\.json: the pattern/));
  assert.deepEqual(tok.encode('ab!'), new HfTokenizer(CATASTROPHIC, {}).encode('ab!', { add_special_tokens: false }).ids);
});

test('real pre-tokenizer patterns (Llama 3, Qwen2, digits) and a Replace normalizer give the library’s own ids', () => {
  const llama3 =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  const qwen2 =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  const configs = [
    withPre({ type: 'Sequence', pretokenizers: [split(llama3), byteLevel] }),
    withPre({ type: 'Sequence', pretokenizers: [split(qwen2), byteLevel] }),
    withPre({ type: 'Sequence', pretokenizers: [split('\\p{N}{1,3}'), split(llama3), byteLevel] }),
    {
      ...withPre({ type: 'Sequence', pretokenizers: [split(llama3), byteLevel] }),
      normalizer: { type: 'Replace', pattern: { Regex: '\\s{2,}' }, content: ' ' },
    },
  ];
  const text = TEXT + " It's 2024; WE'LL   see\r\n\n 12345 ①";
  for (const config of configs) {
    const ours = Tokenizer.fromJSON(JSON.stringify(config));
    const library = new HfTokenizer(config, { clean_up_tokenization_spaces: false });
    assert.deepEqual(ours.encode(text), library.encode(text, { add_special_tokens: false }).ids);
    assert.equal(ours.decode(ours.encode(text)), library.decode(library.encode(text, { add_special_tokens: false }).ids));
  }
});
