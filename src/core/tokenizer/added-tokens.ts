import { isObject } from '../json';

interface AddedToken {
  content: string;
  id: number;
}

/** Finds added tokens leftmost first, the longest of those starting at one place (Rust's aho-corasick). */
class TokenFinder {
  private readonly next: number[];
  constructor(private readonly tokens: AddedToken[]) {
    this.next = tokens.map(() => -1);
  }

  /** The first token at or after `from`, or undefined; `reset` after moving to a new text. */
  find(text: string, from: number, end: number): { at: number; token: AddedToken } | undefined {
    let best: { at: number; token: AddedToken } | undefined;
    this.tokens.forEach((token, k) => {
      if (this.next[k] !== Infinity && this.next[k] < from) {
        const at = text.indexOf(token.content, from);
        this.next[k] = at < 0 ? Infinity : at;
      }
      const at = this.next[k];
      if (at + token.content.length > end) return;
      if (!best || at < best.at || (at === best.at && token.content.length > best.token.content.length)) best = { at, token };
    });
    return best;
  }

  reset(): void {
    this.next.fill(-1);
  }
}

/**
 * Cuts a text around its added tokens (<|endoftext|>…) as the Rust library does: first around the
 * tokens marked normalized: false, then the text between them is normalized (NFC, say) and cut
 * around the others; the text between is what the pre-tokenizer and model see.
 */
export class AddedTokenSplitter {
  private readonly raw: TokenFinder;
  private readonly normalized: TokenFinder;
  readonly empty: boolean;

  /**
   * Undefined when a token cannot be matched as plain text (an empty one, or one that strips the
   * spaces around it).
   */
  static create(addedTokens: unknown, normalize?: (text: string) => string): AddedTokenSplitter | undefined {
    const raw: AddedToken[] = [];
    const normalized: AddedToken[] = [];
    for (const t of Array.isArray(addedTokens) ? addedTokens : []) {
      if (!isObject(t) || typeof t.content !== 'string' || typeof t.id !== 'number' || t.content === '') return undefined;
      if (t.lstrip === true || t.rstrip === true || t.single_word === true) return undefined;
      if (t.normalized === false) raw.push({ content: t.content, id: t.id });
      else normalized.push({ content: normalize ? normalize(t.content) : t.content, id: t.id });
    }
    return new AddedTokenSplitter(raw, normalized, normalize);
  }

  private constructor(
    raw: AddedToken[],
    normalized: AddedToken[],
    private readonly normalize?: (text: string) => string,
  ) {
    this.raw = new TokenFinder(raw);
    this.normalized = new TokenFinder(normalized);
    this.empty = raw.length + normalized.length === 0 && !normalize;
  }

  /**
   * Calls onText for each stretch of text between tokens (s[start, end), s being the text or a
   * normalized copy of a part of it) and onToken for each token, in order.
   */
  split(text: string, onText: (s: string, start: number, end: number) => void, onToken: (id: number) => void): void {
    if (this.empty) return text.length > 0 ? onText(text, 0, text.length) : undefined;
    this.raw.reset();
    this.normalized.reset();
    this.around(this.raw, text, 0, text.length, onToken, (start, end) => {
      if (!this.normalize) return this.around(this.normalized, text, start, end, onToken, (a, b) => onText(text, a, b));
      const part = this.normalize(text.slice(start, end));
      this.normalized.reset();
      this.around(this.normalized, part, 0, part.length, onToken, (a, b) => onText(part, a, b));
    });
  }

  private around(
    finder: TokenFinder,
    text: string,
    start: number,
    end: number,
    onToken: (id: number) => void,
    onText: (start: number, end: number) => void,
  ): void {
    let at = start;
    for (let found = finder.find(text, at, end); found; found = finder.find(text, at, end)) {
      if (found.at > at) onText(at, found.at);
      onToken(found.token.id);
      at = found.at + found.token.content.length;
    }
    if (end > at) onText(at, end);
  }
}
