// Tokenizing a large corpus, ours against Hugging Face tokenizers (Rust), in one run:
//  1. builds a corpus of --mb MB (default 1024) into --dir from ../shared/corpora (Korean and English
//     blocks of lines, interleaved by a seeded random draw), unless one of that size is there;
//  2. trains a byte-level BPE of --vocab tokens (default 8000) with ours, from streamed word counts,
//     and a char tokenizer;
//  3. encodes the corpus with ours (a 4 MB chunk at a time through streamEncoder) and with the peer
//     (scripts/peers/hf_tokenize.py: encode_batch, the same tokenizer.json), alternately, --rounds
//     times; prints MB/s (and per CPU-second: the peer runs on every core), peak RSS and the ids' count and checksum (equal when the ids are) of each,
//     with the load average.
// Nothing is written into the repository or ../shared: only into --dir.
//
// usage: node scripts/bench-tokenize.mjs [--mb 1024] [--vocab 8000] [--rounds 1]
//          [--dir /tmp/corpus-lab-bench-tokenize] [--python /work/venv/bin/python] [--json]
import * as esbuild from 'esbuild';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { nodeBundleOptions } from './node-bundle.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: a } = parseArgs({
  options: {
    mb: { type: 'string', default: '1024' },
    vocab: { type: 'string', default: '8000' },
    rounds: { type: 'string', default: '1' },
    dir: { type: 'string', default: '/tmp/corpus-lab-bench-tokenize' },
    python: { type: 'string', default: '/work/venv/bin/python' },
    json: { type: 'boolean', default: false },
  },
});
const bytes = Math.round(Number(a.mb) * 1024 * 1024);
mkdirSync(a.dir, { recursive: true });
const corpus = join(a.dir, `corpus-${a.mb}mb.txt`);
const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
const log = (...s) => a.json || console.log(...s);

/** Korean and English blocks of 20–200 lines, drawn at random (seeded) until the size is reached. */
function buildCorpus() {
  if (existsSync(corpus) && statSync(corpus).size >= bytes) return;
  const lines = ['constitution-ko.txt', 'tinyshakespeare.txt'].map((f) =>
    readFileSync(join(repo, '../shared/corpora', f), 'utf8').split('\n'),
  );
  let seed = 7;
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const fd = openSync(corpus, 'w');
  let written = 0;
  try {
    while (written < bytes) {
      const source = lines[random() < 0.5 ? 0 : 1];
      const at = Math.floor(random() * (source.length - 200));
      const block = Buffer.from(source.slice(at, at + 20 + Math.floor(random() * 180)).join('\n') + '\n\n');
      written += writeSync(fd, block.subarray(0, Math.min(block.length, bytes - written)));
    }
  } finally {
    closeSync(fd);
  }
}

const oursJs = join(a.dir, 'ours.js');
await esbuild.build({ ...nodeBundleOptions(repo), entryPoints: [join(repo, 'scripts/bench-tokenize/ours.ts')], outfile: oursJs });

function ours(...args) {
  return JSON.parse(
    execFileSync(process.execPath, [oursJs, ...args], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop(),
  );
}

function peer(tokenizerJson) {
  const run = spawnSync(a.python, [join(repo, 'scripts/peers/hf_tokenize.py'), corpus, tokenizerJson], { encoding: 'utf8' });
  if (run.status !== 0) return { error: (run.stderr || run.error?.message || '').trim().split('\n').pop() };
  return JSON.parse(run.stdout.trim().split('\n').pop());
}

buildCorpus();
const size = statSync(corpus).size;
log(`corpus: ${corpus}, ${(size / 1e6).toFixed(0)} MB (load ${load()})`);
const bpeJson = join(a.dir, `bpe-${a.vocab}.json`);
const charJson = join(a.dir, 'char.json');
const trained = { bpe: ours('train', corpus, 'bpe', a.vocab, bpeJson), char: ours('train', corpus, 'char', '0', charJson) };
log(
  `train bpe ${a.vocab} (ours, streamed counts): ${trained.bpe.seconds.toFixed(1)} s (counting ${trained.bpe.counting.toFixed(1)} s, merges ${trained.bpe.merging.toFixed(1)} s), ` +
    `${trained.bpe.words} distinct words kept${trained.bpe.prunedBelow ? `, pruned below ${trained.bpe.prunedBelow}` : ''}, peak RSS ${trained.bpe.peakMB} MB (load ${load()})`,
);
log(`train char (ours): ${trained.char.seconds.toFixed(1)} s, ${trained.char.vocab} tokens, peak RSS ${trained.char.peakMB} MB`);

const results = [];
const mbps = (r) => (r.seconds ? (size / 1e6 / r.seconds).toFixed(1) : '-');
for (let round = 1; round <= Number(a.rounds); round++) {
  for (const [who, kind, run] of [
    ['ours', 'bpe', () => ours('encode', corpus, bpeJson)],
    ['hf', 'bpe', () => peer(bpeJson)],
    ['ours', 'char', () => ours('encode', corpus, charJson)],
    ['hf', 'char', () => peer(charJson)],
  ]) {
    const before = load();
    const r = { round, who, kind, ...run(), load: before };
    results.push(r);
    log(
      r.error
        ? `${kind} ${who}: unavailable (${r.error})`
        : `${kind} ${who.padEnd(4)} ${mbps(r).padStart(6)} MB/s (${(size / 1e6 / r.cpuSeconds).toFixed(1)} MB per CPU-second)  peak RSS ${String(r.peakMB).padStart(4)} MB  ${r.ids} ids, checksum ${r.checksum}  (load ${before})`,
    );
  }
}
for (const kind of ['bpe', 'char']) {
  const [o, h] = ['ours', 'hf'].map((who) => results.filter((r) => r.kind === kind && r.who === who && !r.error));
  if (o.length && h.length) {
    const same = o.every((r) => r.ids === h[0].ids && r.checksum === h[0].checksum);
    const best = (rs) => Math.min(...rs.map((r) => r.seconds));
    log(`${kind}: ours ${(best(h) / best(o)).toFixed(2)}× the peer's speed (best of each); ids ${same ? 'equal' : 'DIFFERENT'}`);
  }
}
if (a.json) console.log(JSON.stringify({ bytes: size, trained, results }));
