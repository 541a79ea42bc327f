import { isObject } from '../json';

/** Characters per slice when a whole corpus is encoded: the library's per-token objects stay small. */
export const SLICE_CHARS = 1 << 18;

/**
 * Whether a tokenizer.json encodes a text cut between a non-space and a space into exactly the ids
 * of the whole. True for Corpus Lab's char tokenizer (no merges: every character on its own) and for
 * GPT-2-style byte-level BPE (its pattern ends a piece before such a space and matches from there as
 * from the start of a text; the slice's leading space also stops add_prefix_space). Anything that
 * sees across the cut is excluded: a normalizer, fused <unk>s, added tokens holding whitespace or
 * stripping it.
 */
export function slicesEncodeExactly(raw: Record<string, unknown>, kind: string): boolean {
  const { normalizer, pre_tokenizer: pre, model, added_tokens: added = [] } = raw;
  if ((normalizer ?? null) !== null || !isObject(pre) || !isObject(model) || model.fuse_unk === true) return false;
  if (!Array.isArray(added)) return false;
  for (const t of added as unknown[]) {
    if (!isObject(t) || typeof t.content !== 'string' || /\s/.test(t.content)) return false;
    if (t.lstrip === true || t.rstrip === true || t.single_word === true) return false;
  }
  if (kind === 'char') return pre.type === 'Split' && isObject(pre.pattern) && pre.pattern.String === '\n';
  return kind === 'bpe' && pre.type === 'ByteLevel' && pre.use_regex !== false;
}

// A space after a character that is whitespace neither to JavaScript (\s has U+FEFF) nor to
// Unicode and Oniguruma (White_Space has U+0085): the byte-level pattern uses the latter.
const CUT = /(?<=[^\s\p{White_Space}]) /gu;

/** The text in consecutive slices of about `size` characters, each cut just before a space that follows a non-space. */
export function* textSlices(text: string, size = SLICE_CHARS): Generator<string> {
  const cut = new RegExp(CUT);
  let start = 0;
  while (text.length - start > size) {
    cut.lastIndex = start + size;
    const m = cut.exec(text);
    if (!m) break;
    yield text.slice(start, m.index);
    start = m.index;
  }
  yield text.slice(start);
}
