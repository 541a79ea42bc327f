import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, cpSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { exportTorch } from '../../src/core/export-torch/export-torch';
import { documentTokens, trainedLength } from '../../src/core/documents';
import { endOfText } from '../../src/core/hf-export';
import { Tokenizer } from '../../src/core/tokenizer';
import { CLI, ENGLISH, REPO, tempDir } from './helpers';

function train(cache: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, 'train', ...args, '--backend', 'wasm', '--threads', '1'], {
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, CORPUS_LAB_CACHE: cache },
  });
  assert.equal(r.status, 0, r.stderr);
}

/** exportTorch with the preparation cache at `cache`. */
function exportWithCache(cache: string, run: string, out: string) {
  const saved = process.env.CORPUS_LAB_CACHE;
  process.env.CORPUS_LAB_CACHE = cache;
  try {
    return exportTorch(run, out);
  } finally {
    if (saved === undefined) delete process.env.CORPUS_LAB_CACHE;
    else process.env.CORPUS_LAB_CACHE = saved;
  }
}

const u16 = (a: Int32Array) => Buffer.from(Uint16Array.from(a).buffer);

test('export-torch of a run on a folder of documents (BPE: end-of-text after each part) or on a .jsonl of texts writes the ids the run trained on, laid out as the documents read whole, from the prepared ids (prepared again when the cache lost them)', () => {
  const root = tempDir('corpus-lab-export-prepared-');
  const text = readFileSync(ENGLISH, 'utf8');
  const texts = [0, 1, 2, 3].map((i) => text.slice(i * 9000, i * 9000 + 3000 + 2000 * i));
  const folder = join(root, 'docs');
  mkdirSync(folder);
  texts.forEach((t, i) => writeFileSync(join(folder, `doc-${i}.txt`), t));
  const jsonl = join(root, 'texts.jsonl');
  writeFileSync(jsonl, texts.map((t) => JSON.stringify({ text: t }) + '\n').join(''));

  const cases = [
    { name: 'folder', path: folder, args: ['--tokenizer', 'bpe', '--vocab-size', '300'] },
    { name: 'jsonl', path: jsonl, args: [] },
  ];
  for (const c of cases) {
    const cache = join(root, `cache-${c.name}`);
    const run = join(root, `run-${c.name}`);
    train(cache, c.path, '--preset', 'tiny', '--context', '32', '--max-steps', '2', ...c.args, '-o', run);
    // The cache lost the prepared ids since: the export prepares them again, streamed.
    rmSync(cache, { recursive: true });
    const out = join(root, `export-${c.name}`);
    const result = exportWithCache(cache, run, out);
    assert.ok('dtype' in result && result.data === 'tokens' && result.dtype === 'uint16', c.name);
    assert.ok(statSync(join(cache, 'prepared')).isDirectory(), `${c.name}: prepared into the cache`);

    const tokenizer = Tokenizer.fromJSON(readFileSync(join(run, 'tokenizer.json'), 'utf8'));
    const eosId = endOfText(tokenizer.toJSON())?.id;
    assert.equal(eosId !== undefined, c.name === 'folder', `${c.name}: a BPE vocabulary has an end-of-text token, a char one none`);
    const plan = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8'));
    const { tokens, heldOut } = documentTokens(
      texts.map((t) => tokenizer.encodeAll(t)),
      eosId,
      plan.plan.options.valFraction,
    );
    assert.deepEqual([plan.plan.trainTokens, plan.plan.valTokens], [tokens.length - heldOut, heldOut], c.name);
    assert.ok(readFileSync(join(out, 'train.bin')).equals(u16(tokens.subarray(0, tokens.length - heldOut))), `${c.name}: train.bin`);
    assert.ok(readFileSync(join(out, 'val.bin')).equals(u16(tokens.subarray(tokens.length - heldOut))), `${c.name}: val.bin`);
  }
});

test('export-torch of a run on a folder larger than the 64 MB a text is read whole under: the ids are written a chunk at a time from the prepared ones', () => {
  const root = tempDir('corpus-lab-export-large-');
  const folder = join(root, 'docs');
  mkdirSync(folder);
  const english = readFileSync(ENGLISH, 'utf8');
  const chunk = Buffer.from(english.repeat(Math.ceil((1 << 20) / english.length)).slice(0, 1 << 20));
  // Two documents of 34 MB: 68 MB in all.
  for (const name of ['a.txt', 'b.txt']) {
    const fd = openSync(join(folder, name), 'w');
    for (let i = 0; i < 34; i++) writeSync(fd, chunk);
    closeSync(fd);
  }
  const cache = join(root, 'cache');
  const run = join(root, 'run');
  train(cache, folder, '--preset', 'tiny', '--max-steps', '1', '-o', run);
  const out = join(root, 'export');
  const result = exportWithCache(cache, run, out);
  assert.ok('dtype' in result && result.dtype === 'uint16');
  // A char vocabulary: one id per character, no end-of-text; each document's last part held out.
  const doc = 34 * chunk.length;
  const { valFraction } = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')).plan.options;
  const cut = trainedLength(doc, valFraction);
  assert.equal(result.trainTokens + result.valTokens, 2 * doc);
  assert.equal(statSync(join(out, 'train.bin')).size, 2 * result.trainTokens);
  assert.equal(statSync(join(out, 'val.bin')).size, 2 * result.valTokens);
  const tokenizer = Tokenizer.fromJSON(readFileSync(join(run, 'tokenizer.json'), 'utf8'));
  const ids = tokenizer.encodeAll(chunk.toString('utf8'));
  // Where each part starts: a's training part, b's (at a's cut), a's held-out part, b's.
  const at = (file: string, token: number, n: number) => {
    const fd = openSync(join(out, file), 'r');
    const b = Buffer.alloc(2 * n);
    readSync(fd, b, 0, b.length, 2 * token);
    closeSync(fd);
    return b;
  };
  assert.equal(result.trainTokens, 2 * cut);
  assert.ok(at('train.bin', 0, 1000).equals(u16(ids.subarray(0, 1000))), 'a starts train.bin');
  assert.ok(at('train.bin', cut, 1000).equals(u16(ids.subarray(0, 1000))), 'b follows a’s training part');
  const heldStart = cut % chunk.length;
  assert.ok(at('val.bin', 0, 1000).equals(u16(ids.subarray(heldStart, heldStart + 1000))), 'a’s held-out part starts val.bin');
});

test("quantize of a run on a folder measures on the run's held-out part, read from the prepared ids as the run laid them out; a run on examples (one per row) is refused in one line", () => {
  const root = tempDir('corpus-lab-quantize-folder-');
  const text = readFileSync(ENGLISH, 'utf8');
  const texts = [0, 1, 2].map((i) => text.slice(i * 15000, i * 15000 + 6000 + 3000 * i));
  const folder = join(root, 'docs');
  mkdirSync(folder);
  texts.forEach((t, i) => writeFileSync(join(folder, `doc-${i}.txt`), t));
  const cache = join(root, 'cache');
  const run = join(root, 'run');
  train(cache, folder, '--preset', 'tiny', '--max-steps', '1', '-o', run);
  const quantize = (...args: string[]) =>
    spawnSync(process.execPath, [CLI, 'quantize', ...args, '--backend', 'wasm', '--json'], {
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, CORPUS_LAB_CACHE: cache },
    });
  const ours = quantize(run, '-o', join(root, 'int8'));
  assert.equal(ours.status, 0, ours.stderr);
  // A char vocabulary has no end-of-text id: the held-out part is each document's last part, one after another.
  const { valFraction } = JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')).plan.options;
  const heldOut = join(root, 'held-out.txt');
  writeFileSync(heldOut, texts.map((t) => t.slice(trainedLength(t.length, valFraction))).join(''));
  const given = quantize(run, '-o', join(root, 'int8-text'), '--text', heldOut);
  assert.equal(given.status, 0, given.stderr);
  const measured = (r: { stdout: string }) => {
    const { loss_fp32, loss_int8, tokens, characters, top1_agreement, kl } = JSON.parse(r.stdout);
    return { loss_fp32, loss_int8, tokens, characters, top1_agreement, kl };
  };
  assert.deepEqual(measured(ours), measured(given));

  const examples = join(root, 'examples');
  const base = join(root, 'qwen2');
  cpSync(join(REPO, 'test/fixtures/hf-llama/qwen2'), base, { recursive: true });
  cpSync(join(REPO, 'test/fixtures/sft/chatml.jinja'), join(base, 'chat_template.jinja'));
  const qa = join(REPO, 'test/fixtures/sft/constitution-qa-ko.jsonl');
  const args = ['finetune', base, qa, '--max-steps', '1', '--batch', '2', '--context', '64', '--backend', 'wasm', '-o', examples];
  const trained = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, CORPUS_LAB_CACHE: cache } });
  assert.equal(trained.status, 0, trained.stderr);
  const refused = quantize(examples, '-o', join(root, 'int8-examples'));
  assert.equal(refused.status, 2, refused.stderr);
  assert.match(refused.stderr, /was trained on examples one per row, .*: pass --text FILE to measure on/);
  assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
});
