// Corpus Lab's preparation of a corpus (scripts/bench-prepare.mjs): read, encode into token ids on
// disk, in a fresh cache; prints one JSON line with the seconds of each phase, the peak RSS, the
// tokenizer.json it made, and (read after the timing) the ids' checksum, the peer's sum
// (scripts/peers/hf_tokenize.py).
//   node prepare.js <corpus> <char|bpe> [vocab size]
import { join } from 'node:path';
import { PrepareProgress, prepareCorpusSync } from '../../src/core/prepared/prepare-corpus';
import { tokenChunks } from '../../src/core/prepared/token-file';

const [corpus, kind, vocab] = process.argv.slice(2);
const started = performance.now();
const phases: Record<string, number> = {};
const onProgress = (p: PrepareProgress) => {
  if (p.done >= p.total) phases[p.phase] = (performance.now() - started) / 1000;
};
const prepared = prepareCorpusSync(corpus, { kind: kind as 'char' | 'bpe', vocabSize: vocab ? Number(vocab) : undefined }, { onProgress });
const seconds = (performance.now() - started) / 1000;
const cpu_seconds = (process.resourceUsage().userCPUTime + process.resourceUsage().systemCPUTime) / 1e6;
const peak_rss_mb = Math.round(process.resourceUsage().maxRSS / 1024);
// Σ (id + 1) · (1 + position mod 1000003), mod 2^32, as the peer sums its ids.
let checksum = 0;
let at = 0;
for (const ids of tokenChunks(prepared.tokens)) {
  for (let i = 0; i < ids.length; i++) checksum = (checksum + Math.imul(ids[i] + 1, 1 + ((at + i) % 1000003))) >>> 0;
  at += ids.length;
}
prepared.tokens.close();
console.log(
  JSON.stringify({
    bytes: prepared.meta.source.bytes,
    tokens: prepared.meta.tokens,
    dtype: prepared.meta.dtype,
    vocab: prepared.tokenizer.vocabSize,
    seconds,
    // When each phase ended, from the start: the tokenizer's pass over the text, then encoding.
    read_done_s: phases.read,
    encode_done_s: phases.encode,
    cpu_seconds,
    peak_rss_mb,
    checksum,
    tokenizer_json: join(prepared.dir, 'tokenizer.json'),
  }),
);
