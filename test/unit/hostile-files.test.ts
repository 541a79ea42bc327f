import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer, trainTokenizer } from '../../src/core/tokenizer';
import { fromGpt2ConfigJson, toGpt2ConfigJson } from '../../src/core/gpt2-config';
import { parseTrainerState } from '../../src/core/checkpoint';
import { isUserError } from '../../src/core/errors';
import { Rng } from '../../src/core/rng';
import { parseFromChart, parseFromTokens, parseToChart, parseToTokens } from '../../src/extension/webview/protocol';
import { parseWorkerRequest, parseWorkerResponse } from '../../src/worker/protocol';
import { adapterConfigJson, readAdapterSettings } from '../../src/core/lora-adapter';
import { checkAdapterBase } from '../../src/core/adapter-base';
import { REPO, tempDir } from './helpers';

/** Random edits of a valid text: byte flips, cuts, duplicated spans, JSON-ish junk. */
function mutations(valid: string, count: number, seed: number): string[] {
  const rng = new Rng(seed);
  const junk = ['{', '}', '[', ']', '"', ':', ',', 'null', '-1', '1e309', '"\\u0000"', 'NaN', '{"a":', '9007199254740993'];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let s = valid;
    for (let k = 0; k < 1 + rng.below(4); k++) {
      const at = rng.below(s.length);
      switch (rng.below(4)) {
        case 0:
          s = s.slice(0, at) + junk[rng.below(junk.length)] + s.slice(at);
          break;
        case 1:
          s = s.slice(0, at) + s.slice(at + 1 + rng.below(20));
          break;
        case 2:
          s = s.slice(0, at);
          break;
        default:
          s = s.slice(0, at) + String.fromCharCode(rng.below(0x3000)) + s.slice(at + 1);
      }
    }
    out.push(s);
  }
  return out;
}

/** Either it parses to something usable or it fails with a UserError — never another kind of error. */
function acceptsOrRefuses(label: string, f: () => unknown): void {
  try {
    f();
  } catch (e) {
    assert.ok(isUserError(e), `${label}: not a UserError: ${(e as Error).stack}`);
  }
}

test('fuzz tokenizer.json: every mutation loads and round-trips, or is refused with a UserError', () => {
  const text = readFileSync(join(REPO, 'test/fixtures/speech-ko.txt'), 'utf8').slice(0, 2000);
  for (const [kind, seed] of [
    ['char', 1],
    ['bpe', 2],
  ] as const) {
    const valid = trainTokenizer(text, { kind, vocabSize: kind === 'bpe' ? 300 : undefined }).toJSON();
    for (const m of mutations(valid, 150, seed)) {
      acceptsOrRefuses('tokenizer.json', () => {
        const tok = Tokenizer.fromJSON(m);
        const ids = tok.encode('대한민국 Korea');
        for (const id of ids) assert.ok(id >= 0 && id < tok.vocabSize);
        tok.decode(ids);
      });
    }
  }
});

test('fuzz config.json and trainer_state.json: usable or refused with a UserError', () => {
  const config = toGpt2ConfigJson(
    { vocabSize: 66, context: 64, layers: 4, heads: 4, width: 128, norm: 'layernorm', dropout: 0, bias: true },
    { tokenizer_kind: 'char' },
  );
  for (const m of mutations(config, 300, 3)) {
    acceptsOrRefuses('config.json', () => {
      const c = fromGpt2ConfigJson(m, 'config.json');
      assert.ok(c.width % c.heads === 0 && c.layers >= 1 && c.vocabSize >= 1);
    });
  }
  const state = JSON.stringify({ step: 10, epoch: 1, cursor: 2, seed: 7, best_val_loss: 2.5, rng: {} });
  for (const m of mutations(state, 300, 4)) acceptsOrRefuses('trainer_state.json', () => parseTrainerState(m, 'trainer_state.json'));
  assert.throws(
    () => fromGpt2ConfigJson('{"model_type":"gpt2","vocab_size":1e400}', 'config.json'),
    (e: unknown) => isUserError(e) && /vocab_size must be a whole number/.test((e as Error).message),
  );
});

test('webview and worker messages: malformed ones are rejected, well-formed ones pass', () => {
  const bad: unknown[] = [
    null,
    42,
    'ready',
    [],
    {},
    { type: 'pickOverlay', extra: 1 },
    { type: 'evil' },
    { type: 'ready', __proto__: { x: 1 } },
  ];
  assert.deepEqual(parseFromChart({ type: 'ready' }), { type: 'ready' });
  assert.deepEqual(parseFromTokens({ type: 'ready' }), { type: 'ready' });
  for (const m of bad.slice(0, 6)) assert.equal(parseFromTokens(m), undefined);
  for (const m of [null, 1, {}, { type: 'evil' }, { type: 42 }]) assert.equal(parseFromChart(m), undefined);
  assert.equal(parseToChart({ type: 'append', rows: [{ step: 'x' }] }), undefined);
  assert.equal(parseToChart({ type: 'append', rows: [{ step: 1, loss: Infinity }] }), undefined);
  assert.ok(parseToChart({ type: 'append', rows: [{ step: 1, loss: 2.5 }] }));
  assert.equal(parseToChart({ type: 'init', run: { name: 'x', rows: [] } }), undefined);
  assert.equal(parseToTokens({ type: 'tokens', pieces: [{ id: 1 }], strings: {} }), undefined);
  assert.equal(parseWorkerRequest({ kind: 'train', id: 1 }), 'train needs request.corpusPath');
  assert.equal(parseWorkerRequest({ kind: 'generate', id: -1 }), 'message has no valid id');
  assert.equal(parseWorkerRequest({ kind: 'rm -rf', id: 1 }), 'unknown message kind "rm -rf"');
  for (const request of [{}, { corpusPath: 'a.txt', outFile: 't.json', tokenizer: 'word' }, { corpusPath: 'a.txt', tokenizer: 'bpe' }])
    assert.match(String(parseWorkerRequest({ kind: 'tokenize', id: 1, request })), /tokenize needs/);
  assert.equal(
    typeof parseWorkerRequest({ kind: 'tokenize', id: 1, request: { corpusPath: 'a', outFile: 'b', tokenizer: 'bpe', vocabSize: 300 } }),
    'object',
  );
  assert.equal(parseWorkerResponse({ kind: 'event', id: 1, event: {} }), 'event needs event.type');
  assert.equal(typeof parseWorkerResponse({ kind: 'result', id: 3, value: null }), 'object');
});

test('fuzz adapter_config.json and adapter_base.json: usable or refused with a UserError', () => {
  const dir = tempDir('corpus-lab-adapter-fuzz-');
  try {
    const path = join(dir, 'adapter_config.json');
    const valid = adapterConfigJson({ r: 8, alpha: 16, rslora: true, targets: ['c_attn', 'mlp.c_fc'], dropout: 0.05 }, '/base');
    for (const m of mutations(valid, 300, 5)) {
      writeFileSync(path, m);
      acceptsOrRefuses('adapter_config.json', () => {
        const s = readAdapterSettings(path);
        assert.ok(Number.isInteger(s.r) && s.r >= 1 && s.alpha > 0 && s.targets.length > 0);
      });
    }
    const record = JSON.stringify({ path: dir, weights_file: 'model.safetensors', sha256: 'a'.repeat(64), bytes: 10 });
    for (const m of mutations(record, 200, 6)) {
      writeFileSync(join(dir, 'adapter_base.json'), m);
      acceptsOrRefuses('adapter_base.json', () => checkAdapterBase(dir));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fuzz an imported (Metaspace, byte-fallback) tokenizer.json: loads and round-trips, or is refused', () => {
  const vocab: Record<string, number> = { '<unk>': 0, '</s>': 1, '▁': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = Object.keys(vocab).length;
  for (const ch of '대한민국헌법Korea') vocab[ch] ??= Object.keys(vocab).length;
  vocab['▁대'] = Object.keys(vocab).length;
  const valid = JSON.stringify({
    version: '1.0',
    added_tokens: [{ id: 1, content: '</s>', special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true },
    post_processor: null,
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true },
    model: { type: 'BPE', unk_token: '<unk>', byte_fallback: true, fuse_unk: true, vocab, merges: ['▁ 대'] },
  });
  assert.equal(Tokenizer.fromJSON(valid).kind, 'imported');
  for (const m of mutations(valid, 150, 7)) {
    acceptsOrRefuses('tokenizer.json', () => {
      const tok = Tokenizer.fromJSON(m);
      const ids = tok.encode('대한민국 Korea 헌법');
      for (const id of ids) assert.ok(id >= 0 && id < tok.vocabSize);
      tok.decode(ids);
    });
  }
});
