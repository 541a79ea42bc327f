/** Where a text may be cut so that encoding the parts gives the ids of encoding it whole. */
export interface SettledText {
  /** True when cuts between a non-space and a space are exact (see slicesEncodeExactly). */
  readonly sliceable: boolean;
  encodeSettled(text: string): Int32Array;
}

// A space is a cut after a character that is whitespace neither to JavaScript (\s has U+FEFF) nor
// to Unicode and Oniguruma (White_Space has U+0085), as in text-slices.ts.
const SPACE_LIKE = /[\s\p{White_Space}]/u;

/** The last index i ≥ from with text[i] a space after a non-space, or -1. */
function lastCut(text: string, from: number): number {
  for (let i = text.lastIndexOf(' '); i >= Math.max(1, from); i = text.lastIndexOf(' ', i - 1)) if (!SPACE_LIKE.test(text[i - 1])) return i;
  return -1;
}

/**
 * A text that arrives in pieces, given back up to its last cut between a non-space and a space:
 * the GPT-2 pattern splits the text before and after such a cut as it splits the whole. Holds
 * only the unfinished word (and all of a text without such a space).
 */
export class TextSettler {
  private pending = '';
  /** pending holds no cut before this index. */
  private searched = 0;

  /** The text settled by this piece ('' when it has no cut yet). */
  push(text: string): string {
    this.pending += text;
    const cut = lastCut(this.pending, this.searched);
    if (cut < 0) {
      this.searched = this.pending.length;
      return '';
    }
    const settled = this.pending.slice(0, cut);
    this.pending = this.pending.slice(cut);
    this.searched = 0;
    return settled;
  }

  /** The rest of the text. */
  end(): string {
    const rest = this.pending;
    this.pending = '';
    this.searched = 0;
    return rest;
  }
}

/**
 * Encodes a text that arrives in pieces (a file read a chunk at a time) into exactly the ids of
 * encoding it whole: UTF-8 bytes are decoded across chunk edges, and each push encodes the text up
 * to its last cut between a non-space and a space, keeping the rest for the next. Memory holds one
 * chunk and the unfinished word; a tokenizer whose encoding sees across such cuts (an imported one
 * with a normalizer, say) keeps the whole text until end().
 */
export class StreamEncoder {
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  private readonly settler = new TextSettler();
  private whole = '';

  constructor(private readonly tokenizer: SettledText) {}

  /** The ids of the text settled so far by this chunk (UTF-8 bytes, or text). */
  push(chunk: Uint8Array | string): Int32Array {
    const text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (!this.tokenizer.sliceable) {
      this.whole += text;
      return new Int32Array(0);
    }
    const settled = this.settler.push(text);
    return settled.length > 0 ? this.tokenizer.encodeSettled(settled) : new Int32Array(0);
  }

  /** The ids of the rest of the text (an unfinished character at the very end becomes U+FFFD). */
  end(): Int32Array {
    const rest = this.whole + this.settler.end() + this.decoder.decode();
    this.whole = '';
    return this.tokenizer.encodeSettled(rest);
  }
}
