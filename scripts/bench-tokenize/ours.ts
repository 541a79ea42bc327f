// Corpus Lab's side of scripts/bench-tokenize.mjs: train a tokenizer, or encode a corpus with one,
// streaming the file a chunk at a time; prints one JSON line with the time and peak RSS.
//   node ours.js train <corpus> <bpe|char> <vocab size> <tokenizer.json out>
//   node ours.js encode <corpus> <tokenizer.json>
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import { PreTokenCounter, Tokenizer, trainBpeFromCounts, trainTokenizer } from '../../src/core/tokenizer';

const CHUNK_BYTES = 4 << 20;

/** Calls onChunk with each chunk of the file's bytes; the seconds it all took. */
function readChunks(path: string, onChunk: (bytes: Uint8Array) => void): number {
  const t0 = performance.now();
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  try {
    for (let got = readSync(fd, buf); got > 0; got = readSync(fd, buf)) onChunk(buf.subarray(0, got));
  } finally {
    closeSync(fd);
  }
  return (performance.now() - t0) / 1000;
}

const peakMB = () => Math.round(process.resourceUsage().maxRSS / 1024);
const [command, corpus, ...rest] = process.argv.slice(2);

if (command === 'train') {
  const [kind, vocab, out] = rest;
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  let tok: Tokenizer;
  let seconds: number;
  let extra = {};
  if (kind === 'char') {
    const chars = new Set<string>();
    seconds = readChunks(corpus, (bytes) => {
      for (const c of decoder.decode(bytes, { stream: true })) chars.add(c);
    });
    tok = trainTokenizer([...chars].join(''), { kind: 'char' });
  } else {
    const counter = new PreTokenCounter();
    const counting = readChunks(corpus, (bytes) => counter.push(decoder.decode(bytes, { stream: true })));
    const t0 = performance.now();
    tok = trainBpeFromCounts(counter, Number(vocab));
    const merging = (performance.now() - t0) / 1000;
    seconds = counting + merging;
    extra = { counting, merging, words: counter.counts.size, prunedBelow: counter.prunedBelow };
  }
  writeFileSync(out, tok.toJSON());
  console.log(JSON.stringify({ seconds, peakMB: peakMB(), vocab: tok.vocabSize, ...extra }));
} else if (command === 'encode') {
  const tok = Tokenizer.load(rest[0]);
  const stream = tok.streamEncoder();
  let ids = 0;
  let checksum = 0;
  let checksumMs = 0;
  let checksumCpu = 0;
  const take = (out: Int32Array) => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    // Σ (id + 1) · (1 + position mod 1000003), mod 2^32: the same sum as the peer's.
    for (let i = 0; i < out.length; i++) checksum = (checksum + Math.imul(out[i] + 1, 1 + ((ids + i) % 1000003))) >>> 0;
    ids += out.length;
    checksumMs += performance.now() - t0;
    const c = process.cpuUsage(c0);
    checksumCpu += c.user + c.system;
  };
  const cpu0 = process.cpuUsage();
  const total = readChunks(corpus, (bytes) => take(stream.push(bytes)));
  const t0 = performance.now();
  take(stream.end());
  const seconds = total + (performance.now() - t0) / 1000 - checksumMs / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system - checksumCpu) / 1e6;
  console.log(JSON.stringify({ seconds, cpuSeconds, ids, checksum, peakMB: peakMB() }));
} else {
  console.error('usage: ours.js train <corpus> <bpe|char> <vocab> <out> | encode <corpus> <tokenizer.json>');
  process.exit(2);
}
