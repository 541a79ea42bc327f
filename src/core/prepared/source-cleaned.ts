import { CleanOptions, cleanRuleNames } from '../clean';
import { CleanStream } from '../clean/clean-stream';
import { CorpusSource } from './corpus-source';
import { sha256Hex } from './prepared-cache';
import { TextSink } from './source-text';

/** Bumped when cleaning changes what it makes of a text: earlier preparations of cleaned text are then not reused. */
const CLEANING_VERSION = 1;

/**
 * What the cache keeps a text's preparations (its tokenizer, its ids) under: the text's sha256, or,
 * cleaned, that and the rules together, so cleaned and uncleaned preparations of one text differ.
 */
export function preparedKey(sha256: string, clean: CleanOptions | undefined): string {
  if (!clean) return sha256;
  return sha256Hex(`clean-v${CLEANING_VERSION}:${cleanRuleNames(clean).join(',')}\0${sha256}`);
}

/** The source's text as `corpus-lab clean` makes it, each document cleaned on its own as it streams. */
export function cleanedSource(source: CorpusSource, options: CleanOptions): CorpusSource {
  return {
    ...source,
    *steps(onText: TextSink, onDocumentEnd, opts) {
      const out = typeof onText === 'function' ? onText : (text: string) => onText.utf8(Buffer.from(text));
      const stream = new CleanStream(options, out, source.path, { report: false });
      return yield* source.steps(
        (text) => stream.push(text),
        () => {
          stream.endDocument();
          onDocumentEnd();
        },
        opts,
      );
    },
  };
}
