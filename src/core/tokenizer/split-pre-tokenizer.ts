import { isObject } from '../json';
import { GPT2_SPLIT_PATTERN, LLAMA3_SPLIT, QWEN2_SPLIT } from './known-split-patterns';
import { forEachLlamaPreToken } from './llama-pre-token-scanner';
import { forEachPreToken } from './pre-token-scanner';

/** Calls piece(s, start, end) for each pre-token of text[start, end), s being text or a copy of that stretch. */
export type PreTokens = (text: string, start: number, end: number, piece: (s: string, start: number, end: number) => void) => void;

type Scan = (text: string, start: number, end: number, piece: (start: number, end: number) => void) => void;

/** Each known pattern as a scan giving the pieces its search gives in text[start, end) on its own. */
const SCANS = new Map<string, Scan>([
  [LLAMA3_SPLIT, (text, start, end, piece) => forEachLlamaPreToken(text, start, end, 3, piece)],
  [QWEN2_SPLIT, (text, start, end, piece) => forEachLlamaPreToken(text, start, end, 1, piece)],
  [GPT2_SPLIT_PATTERN, forEachPreToken],
]);

/**
 * The pre-tokenizer of Llama 3 and Qwen2-family tokenizer.json files: a Split by one of the
 * KNOWN_SPLIT_PATTERNS (Isolated: each match a piece), then ByteLevel without its own regex or
 * prefix space. Undefined for any other shape.
 */
export function knownSplitPreTokens(pre: unknown): PreTokens | undefined {
  if (!isObject(pre) || pre.type !== 'Sequence' || !Array.isArray(pre.pretokenizers) || pre.pretokenizers.length !== 2) return undefined;
  const [split, byteLevel] = pre.pretokenizers as unknown[];
  if (!isObject(split) || split.type !== 'Split' || split.behavior !== 'Isolated' || split.invert === true) return undefined;
  const scan = isObject(split.pattern) && typeof split.pattern.Regex === 'string' ? SCANS.get(split.pattern.Regex) : undefined;
  if (!scan) return undefined;
  if (!isObject(byteLevel) || byteLevel.type !== 'ByteLevel' || byteLevel.use_regex !== false || byteLevel.add_prefix_space === true)
    return undefined;
  return (text, start, end, piece) => scan(text, start, end, (a, b) => piece(text, a, b));
}
