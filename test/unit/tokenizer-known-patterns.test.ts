import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { Tokenizer } from '../../src/core/tokenizer';
import { KNOWN_SPLIT_PATTERNS } from '../../src/core/tokenizer/known-split-patterns';
import { libraryPattern } from '../../src/core/tokenizer/rust-parity';
import { knownSplitPreTokens } from '../../src/core/tokenizer/split-pre-tokenizer';
import { ENGLISH, KOREAN, userError } from './helpers';

// Llama 3's and Qwen2's split patterns are searched without a time limit and encoded by the fast
// encoder; any other pattern keeps the limit (tokenizer-pattern-limit.test.ts).
const DIR = join(__dirname, '../../../test/fixtures/tokenizers');
const json = (family: string) => readFileSync(join(DIR, `${family}.json`), 'utf8');
const TEXT = readFileSync(KOREAN, 'utf8').slice(0, 3000) + readFileSync(ENGLISH, 'utf8').slice(0, 3000);

/** A chat rendered as Qwen's template writes it, with what makes segments differ: NFD text, spaces before a special token, digits, CRLF. */
function chat(start: string, end: string): string {
  const turns = TEXT.match(/[^\n]+/g)!.slice(0, 40);
  const decomposed = '한국어 Ångström'.normalize('NFD');
  return turns
    .map((t, i) => `${start}${i % 2 ? 'assistant' : 'user'}\n${t} ${decomposed} 2024년 <tool_call>{"x": 12345}</tool_call>  ${end}\r\n`)
    .join('');
}

const split = (regex: string) => ({ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false });
const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false };

/** How many times prototype[name] is called while run() runs, and its result. */
function counting<T>(object: { prototype: object }, name: string, run: () => T): { calls: number; result: T } {
  const proto = object.prototype as Record<string, (...args: unknown[]) => unknown>;
  const original = proto[name];
  let calls = 0;
  proto[name] = function (this: unknown, ...args: unknown[]) {
    calls++;
    return original.apply(this, args);
  };
  try {
    const result = run();
    return { calls, result };
  } finally {
    proto[name] = original;
  }
}

for (const [family, [start, end]] of Object.entries({
  qwen2: ['<|im_start|>', '<|im_end|>'],
  llama3: ['<|start_header_id|>', '<|eot_id|>'],
})) {
  test(`${family}: a chat is encoded to the library's ids without a time-limited search or the library's encode`, () => {
    const text = chat(start, end);
    const ours = Tokenizer.fromJSON(json(family));
    const library = new HfTokenizer(JSON.parse(json(family)), { clean_up_tokenization_spaces: false });
    const limited = counting(Script, 'runInContext', () => counting(HfTokenizer, 'encode', () => ours.encode(text)));
    assert.equal(limited.calls, 0, 'searches ran under a time limit');
    assert.equal(limited.result.calls, 0, "the library's encode ran");
    assert.deepEqual(limited.result.result, library.encode(text, { add_special_tokens: false }).ids);
  });
}

test('a pattern one alternative off a known one keeps its time limit', () => {
  const qwen2 = JSON.parse(json('qwen2'));
  const split = qwen2.pre_tokenizer.pretokenizers[0];
  assert.ok(KNOWN_SPLIT_PATTERNS.has(split.pattern.Regex));
  split.pattern.Regex = '(a+)+$|' + split.pattern.Regex;
  const tok = Tokenizer.fromJSON(JSON.stringify(qwen2), 'evil/tokenizer.json');
  assert.throws(() => tok.encode('a'.repeat(40) + '!'), userError(/^evil\/tokenizer\.json: the pattern "\(a\+\)\+\$\|.*did not finish/));
});

test('the known patterns take text that makes a backtracking search slow in linear time', () => {
  const tok = Tokenizer.fromJSON(json('qwen2'));
  const n = 200_000;
  for (const text of [
    ' '.repeat(n) + 'a',
    ' \n'.repeat(n / 2) + 'a',
    '\t '.repeat(n / 2) + '!',
    '!'.repeat(n) + ' ',
    "'".repeat(n) + 's',
  ]) {
    const started = process.hrtime.bigint();
    assert.ok(tok.encode(text).length > 0);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.ok(ms < 2000, `${JSON.stringify(text.slice(0, 6))}…: ${ms.toFixed(0)} ms`);
  }
});

test("the known patterns' scans cut text into the pieces the library's search gives", () => {
  // Each class and each edge the patterns tell apart: contractions in any case (and ſ), letters
  // (Korean, titlecase, a combining mark that is not one), digits of other scripts, line breaks,
  // White_Space that JavaScript's \s lacks (U+0085) and the other way round (U+FEFF), an emoji, lone surrogates.
  const alphabet = ["'", 's', 'S', 'ſ', 't', 'r', 'E', 'v', 'l', 'L', 'm', 'd', 'a', '한', 'ǅ', '\u0301', '1', '٣', '½', '!', '(', '.'];
  alphabet.push(' ', ' ', '\t', '\n', '\r', '\u0085', '\ufeff', '\u3000', '😀', '\ud800', '\udc00');
  let seed = 12345;
  const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  for (const regex of KNOWN_SPLIT_PATTERNS) {
    const pre = knownSplitPreTokens({ type: 'Sequence', pretokenizers: [split(regex), byteLevel] })!;
    const pattern = libraryPattern(regex);
    for (let k = 0; k < 20_000; k++) {
      let text = '';
      for (let n = random(24); n > 0; n--) text += alphabet[random(alphabet.length)];
      const pieces: string[] = [];
      pre(text, 0, text.length, (s, a, b) => pieces.push(s.slice(a, b)));
      const library = [...text.matchAll(pattern)].map((m) => m[0]);
      assert.deepEqual(pieces, library, JSON.stringify(text));
    }
  }
});

test('any other pattern: a short text is searched under one time limit, whatever the pieces between its special tokens, which still names a pattern that backtracks', () => {
  const qwen2 = JSON.parse(json('qwen2'));
  const pattern = qwen2.pre_tokenizer.pretokenizers[0].pattern;
  pattern.Regex = pattern.Regex.replace('\\p{N}|', '\\p{N}{1,2}|');
  assert.ok(!KNOWN_SPLIT_PATTERNS.has(pattern.Regex));
  const ours = Tokenizer.fromJSON(JSON.stringify(qwen2));
  const library = new HfTokenizer(qwen2, { clean_up_tokenization_spaces: false });
  const text = chat('<|im_start|>', '<|im_end|>');
  const limited = counting(Script, 'runInContext', () => ours.encode(text));
  assert.equal(limited.calls, 1);
  assert.deepEqual(limited.result, library.encode(text, { add_special_tokens: false }).ids);

  pattern.Regex = '(a+)+$|' + pattern.Regex;
  const evil = Tokenizer.fromJSON(JSON.stringify(qwen2), 'evil/tokenizer.json');
  const hostile = `<|im_start|>user\nhi<|im_end|>\n<|im_start|>user\n${'a'.repeat(40)}!<|im_end|>\n`;
  assert.throws(
    () => evil.encode(hostile),
    userError(/^evil\/tokenizer\.json: the pattern "\(a\+\)\+\$\|.*did not finish within 1(\.\d+)? s on a text of 99 characters/),
  );
  assert.deepEqual(evil.encode('ab!'), new HfTokenizer(qwen2, {}).encode('ab!', { add_special_tokens: false }).ids);
});
