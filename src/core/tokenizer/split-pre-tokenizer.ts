import { isObject } from '../json';
import { KNOWN_SPLIT_PATTERNS } from './known-split-patterns';
import { libraryPattern } from './rust-parity';

/** Calls piece(s, start, end) for each pre-token of text[start, end), s being text or a copy of that stretch. */
export type PreTokens = (text: string, start: number, end: number, piece: (s: string, start: number, end: number) => void) => void;

/**
 * The pre-tokenizer of Llama 3 and Qwen2-family tokenizer.json files: a Split by one of the
 * KNOWN_SPLIT_PATTERNS (Isolated: matches and the text between them are pieces), then ByteLevel
 * without its own regex or prefix space. Undefined for any other shape.
 */
export function knownSplitPreTokens(pre: unknown): PreTokens | undefined {
  if (!isObject(pre) || pre.type !== 'Sequence' || !Array.isArray(pre.pretokenizers) || pre.pretokenizers.length !== 2) return undefined;
  const [split, byteLevel] = pre.pretokenizers as unknown[];
  if (!isObject(split) || split.type !== 'Split' || split.behavior !== 'Isolated' || split.invert === true) return undefined;
  const regex = isObject(split.pattern) ? split.pattern.Regex : undefined;
  if (typeof regex !== 'string' || !KNOWN_SPLIT_PATTERNS.has(regex)) return undefined;
  if (!isObject(byteLevel) || byteLevel.type !== 'ByteLevel' || byteLevel.use_regex !== false || byteLevel.add_prefix_space === true)
    return undefined;
  const pattern = libraryPattern(regex);
  return (text, start, end, piece) => {
    // The stretch on its own, as the library searches it: a lookahead such as \s+(?!\S) must see its end.
    const stretch = start === 0 && end === text.length ? text : text.slice(start, end);
    let at = 0;
    for (const m of stretch.matchAll(pattern)) {
      if (m.index > at) piece(stretch, at, m.index);
      if (m[0].length > 0) piece(stretch, m.index, m.index + m[0].length);
      at = m.index + m[0].length;
    }
    if (stretch.length > at) piece(stretch, at, stretch.length);
  };
}
