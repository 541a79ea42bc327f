// Preparing a large corpus, and training from it (issue 22's targets), in one run:
//  1. builds --mb MB (default 1024) of Korean and English text into --dir from ../shared/corpora
//     (the two texts' lines in alternating blocks), unless a corpus of that size is there, and a 1 MB one;
//  2. prepares it (char tokenizer, and a byte-level BPE of --vocab tokens) in a fresh cache: MB/s of
//     the whole preparation (tokenizer pass + encoding pass) and peak RSS; beside the BPE one, Hugging
//     Face tokenizers' encode_batch encoding the same text with the tokenizer.json ours made
//     (scripts/peers/hf_tokenize.py under --python; encoding only), with its peak RSS and whether the ids are equal;
//  3. trains the tiny preset on it for 3 steps from that cache with the CLI: seconds from the
//     command's start to its first step, and peak RSS; then the same on the 1 MB corpus.
// --folder: the large corpus is a folder of documents of --doc-kb KB each (in subfolders of 100) cut
// from that text at line breaks, prepared and trained on as a folder (held out per document);
// --jsonl: the same documents as the lines of a .jsonl of {"text"} examples.
// Every figure is printed with the load average. Nothing is written into the repository or ../shared.
//
// usage: node scripts/bench-prepare.mjs [--mb 1024] [--vocab 8000] [--dir /tmp/corpus-lab-bench-prepare]
//          [--corpora ../shared/corpora] [--skip-bpe] [--python /work/venv/bin/python] [--skip-peer] [--json]
//          [--folder | --jsonl] [--doc-kb 256]
import * as esbuild from 'esbuild';
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { measured } from './measured-run.mjs';
import { nodeBundleOptions } from './node-bundle.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: a } = parseArgs({
  options: {
    mb: { type: 'string', default: '1024' },
    vocab: { type: 'string', default: '8000' },
    dir: { type: 'string', default: '/tmp/corpus-lab-bench-prepare' },
    corpora: { type: 'string', default: join(repo, '../shared/corpora') },
    'skip-bpe': { type: 'boolean', default: false },
    python: { type: 'string', default: '/work/venv/bin/python' },
    'skip-peer': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    folder: { type: 'boolean', default: false },
    jsonl: { type: 'boolean', default: false },
    'doc-kb': { type: 'string', default: '256' },
  },
});
mkdirSync(a.dir, { recursive: true });
const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
const log = (...s) => a.json || console.log(...s);

/** The two texts' lines in blocks of 50, alternating, until `bytes`. */
function buildCorpus(path, bytes) {
  if (existsSync(path) && statSync(path).size === bytes) return path;
  const texts = ['constitution-ko.txt', 'tinyshakespeare.txt'].map((f) => readFileSync(join(a.corpora, f), 'utf8').split('\n'));
  const fd = openSync(path, 'w');
  try {
    for (let written = 0, block = 0; written < bytes; block++) {
      const lines = texts[block % 2];
      const at = ((block >> 1) * 50) % Math.max(1, lines.length - 50);
      const text = Buffer.from(lines.slice(at, at + 50).join('\n') + '\n');
      // Cut at a line break so the file ends with whole characters.
      const room = bytes - written;
      const part = text.length <= room ? text : text.subarray(0, Math.max(0, text.lastIndexOf(0x0a, room - 1) + 1));
      if (part.length === 0) break;
      written += writeSync(fd, part);
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

/** Calls `onDocument` with the text at `file` cut at line breaks into documents of about `docBytes`. */
function eachDocument(file, docBytes, onDocument) {
  const buf = Buffer.allocUnsafe(docBytes + (1 << 16));
  const fd = openSync(file, 'r');
  try {
    for (let at = 0, n = 0; ; n++) {
      const got = readSync(fd, buf, 0, buf.length, at);
      if (got === 0) break;
      const cut = got < buf.length ? got : buf.lastIndexOf(0x0a, docBytes) + 1 || got;
      onDocument(buf.subarray(0, cut), n);
      at += cut;
    }
  } finally {
    closeSync(fd);
  }
}

/** The documents, 100 to a subfolder; a hidden marker says the folder is whole. */
function buildFolder(file, dir, docBytes) {
  const done = join(dir, `.built-from-${statSync(file).size}-${docBytes}`);
  if (existsSync(done)) return dir;
  rmSync(dir, { recursive: true, force: true });
  eachDocument(file, docBytes, (doc, n) => {
    const sub = join(dir, `part-${String(Math.floor(n / 100)).padStart(4, '0')}`);
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `doc-${String(n).padStart(6, '0')}.txt`), doc);
  });
  writeFileSync(done, '');
  return dir;
}

/** The documents as the lines of a .jsonl of {"text"} examples. */
function buildJsonl(file, path, docBytes) {
  const done = `${path}.built-from-${statSync(file).size}-${docBytes}`;
  if (existsSync(done) && existsSync(path)) return path;
  const out = openSync(path, 'w');
  try {
    eachDocument(file, docBytes, (doc) => writeSync(out, JSON.stringify({ text: doc.toString('utf8') }) + '\n'));
  } finally {
    closeSync(out);
  }
  writeFileSync(done, '');
  return path;
}

/** Bytes of a file, or of a folder's documents, and how many documents. */
function sizeOf(path) {
  if (!statSync(path).isDirectory()) return { bytes: statSync(path).size, documents: 1 };
  const docs = readdirSync(path, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith('.txt'));
  return { bytes: docs.reduce((n, e) => n + statSync(join(e.parentPath, e.name)).size, 0), documents: docs.length };
}

const prepareJs = join(a.dir, 'prepare.js');
await esbuild.build({ ...nodeBundleOptions(repo), entryPoints: [join(repo, 'scripts/bench-prepare/prepare.ts')], outfile: prepareJs });
const cli = join(repo, 'dist/cli.js');

/** Runs `train` with --json under /usr/bin/time: seconds from its start to the first step event, peak RSS. */
function timedTrain(corpus, cache, out) {
  return new Promise((resolve, reject) => {
    rmSync(out, { recursive: true, force: true });
    const t0 = performance.now();
    const args = [
      '-f',
      'peak_rss_kb=%M',
      process.execPath,
      cli,
      'train',
      corpus,
      '--json',
      '--preset',
      'tiny',
      '--max-steps',
      '3',
      '-o',
      out,
    ];
    const child = spawn('/usr/bin/time', args, { env: { ...process.env, CORPUS_LAB_CACHE: cache } });
    let firstStep;
    let pending = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      pending += d;
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const line of lines) if (firstStep === undefined && line.includes('"type":"step"')) firstStep = (performance.now() - t0) / 1000;
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`train failed (${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
      resolve({ first_step_s: firstStep, peak_rss_mb: Math.round(Number(/peak_rss_kb=(\d+)/.exec(stderr)?.[1]) / 1024) });
    });
  });
}

const bigFile = buildCorpus(join(a.dir, `mixed-${a.mb}mb.txt`), Math.round(Number(a.mb) * 1024 * 1024));
const docBytes = Number(a['doc-kb']) * 1024;
const big = a.folder
  ? buildFolder(bigFile, join(a.dir, `mixed-${a.mb}mb-docs`), docBytes)
  : a.jsonl
    ? buildJsonl(bigFile, join(a.dir, `mixed-${a.mb}mb-texts.jsonl`), docBytes)
    : bigFile;
const small = buildCorpus(join(a.dir, 'mixed-1mb.txt'), 1024 * 1024);
const { bytes: size, documents } = sizeOf(big);
log(`corpus: ${big}, ${(size / 1e6).toFixed(0)} MB${a.folder ? ` in ${documents} documents` : ''} (load ${load()})`);
if (a.jsonl) log(`  ${Math.ceil(statSync(bigFile).size / docBytes)} or so {"text"} lines of ${a['doc-kb']} KB each`);
const results = {};
for (const [kind, vocab] of [['char'], ...(a['skip-bpe'] ? [] : [['bpe', a.vocab]])]) {
  const cache = join(a.dir, `cache-${kind}`);
  rmSync(cache, { recursive: true, force: true });
  const before = load();
  const r = measured('env', [`CORPUS_LAB_CACHE=${cache}`, process.execPath, prepareJs, big, kind, ...(vocab ? [vocab] : [])]);
  results[`prepare_${kind}`] = { ...r, load: before };
  log(
    `prepare ${kind}${vocab ? ` ${vocab}` : ''}: ${(size / 1e6 / r.seconds).toFixed(1)} MB/s, ${(size / 1e6 / r.cpu_seconds).toFixed(1)} MB per CPU-second (${r.seconds.toFixed(1)} s: tokenizer pass done at ${r.read_done_s?.toFixed(1)} s, encoding at ${r.encode_done_s?.toFixed(1)} s), ` +
      `${r.tokens} ${r.dtype} ids, vocabulary ${r.vocab}, peak RSS ${Math.round(r.peak_rss_bytes / 2 ** 20)} MB (load ${before})`,
  );
  // The peer reads one text file (hf_tokenize.py), not a folder.
  if (kind === 'bpe' && !a['skip-peer'] && !a.folder && !a.jsonl) results.bpe_peer = bpeSideBySide(r);
}

/** Hugging Face's encode_batch on the same text and tokenizer.json, printed beside our whole BPE preparation. */
function bpeSideBySide(ours) {
  const before = load();
  let peer;
  try {
    peer = measured(a.python, [join(repo, 'scripts/peers/hf_tokenize.py'), big, ours.tokenizer_json]);
  } catch (e) {
    log(`bpe peer (Hugging Face tokenizers): unavailable (${e.message})`);
    return { error: e.message };
  }
  const row = (name, seconds, cpu, peakBytes, ids, checksum, load) =>
    `  ${name.padEnd(58)} ${(size / 1e6 / seconds).toFixed(1).padStart(6)} MB/s  ${(size / 1e6 / cpu).toFixed(1).padStart(6)} MB/CPU-s  peak RSS ${String(Math.round(peakBytes / 2 ** 20)).padStart(4)} MB  ${ids} ids, checksum ${checksum}  (load ${load})`;
  log(`bpe ${a.vocab}, side by side on ${(size / 1e6).toFixed(0)} MB:`);
  log(
    row(
      'ours: whole preparation (train the tokenizer, encode, write)',
      ours.seconds,
      ours.cpu_seconds,
      ours.peak_rss_bytes,
      ours.tokens,
      ours.checksum,
      results.prepare_bpe.load,
    ),
  );
  log(
    row(
      'Hugging Face tokenizers encode_batch (encoding only)',
      peer.seconds,
      peer.cpuSeconds,
      peer.peak_rss_bytes,
      peer.ids,
      peer.checksum,
      before,
    ),
  );
  const same = peer.ids === ours.tokens && peer.checksum === ours.checksum;
  log(`  ours ${(peer.seconds / ours.seconds).toFixed(2)}× the peer's speed in wall time; ids ${same ? 'equal' : 'DIFFERENT'}`);
  return { ...peer, load: before, ids_equal: same };
}

const cache = join(a.dir, 'cache-char');
for (const [name, corpus] of [
  ['large', big],
  ['1mb', small],
]) {
  // The 1 MB corpus is prepared by a first run; the second is the one measured, as the large one's is.
  if (name === '1mb') await timedTrain(corpus, cache, join(a.dir, 'run-1mb'));
  const before = load();
  const r = await timedTrain(corpus, cache, join(a.dir, `run-${name}`));
  results[`train_${name}`] = { ...r, load: before };
  log(
    `train on the ${name === 'large' ? `${(size / 1e6).toFixed(0)} MB` : '1 MB'} corpus (prepared): first step ${r.first_step_s?.toFixed(2)} s after the command started, peak RSS ${r.peak_rss_mb} MB (load ${before})`,
  );
}
log(`peak RSS, large corpus minus 1 MB corpus: ${results.train_large.peak_rss_mb - results.train_1mb.peak_rss_mb} MB`);
if (a.json) console.log(JSON.stringify({ bytes: size, ...results }));
