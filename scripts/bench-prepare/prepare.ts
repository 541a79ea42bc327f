// Corpus Lab's preparation of a corpus (scripts/bench-prepare.mjs): read, encode into token ids on
// disk, in a fresh cache; prints one JSON line with the seconds of each phase and the peak RSS.
//   node prepare.js <corpus> <char|bpe> [vocab size]
import { PrepareProgress, prepareCorpusSync } from '../../src/core/prepared/prepare-corpus';

const [corpus, kind, vocab] = process.argv.slice(2);
const started = performance.now();
const phases: Record<string, number> = {};
const onProgress = (p: PrepareProgress) => {
  if (p.done >= p.total) phases[p.phase] = (performance.now() - started) / 1000;
};
const prepared = prepareCorpusSync(corpus, { kind: kind as 'char' | 'bpe', vocabSize: vocab ? Number(vocab) : undefined }, { onProgress });
prepared.tokens.close();
const seconds = (performance.now() - started) / 1000;
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
    cpu_seconds: (process.resourceUsage().userCPUTime + process.resourceUsage().systemCPUTime) / 1e6,
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  }),
);
