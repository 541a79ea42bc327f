import { codePointCount } from '../code-points';
import { Message, UserError, message } from '../errors';
import { BlankLines } from './blank-lines';
import { frontMatterOpen, stripEmoji, stripFrontMatter, stripMarkupPiece, stripUrls } from './optional-rules';
import { replaceCounted } from './replace-counted';
import type { CleanOptions, CleanReport, CleanStepReport } from './index';

// Invisible characters that carry nothing for training. ZWJ (U+200D) and ZWNJ (U+200C) are kept:
// they join emoji sequences and shape Persian, Indic and other scripts; variation selectors too.
const INVISIBLE = /[\u00AD\u180E\u200B\u200E\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/g;
// Control characters (Cc) other than tab and line feed; CR is handled as a line break first.
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/g;

const DESCRIPTIONS = {
  'line-breaks': 'CRLF and CR line breaks made LF',
  nfc: 'characters changed by Unicode NFC normalisation',
  'front-matter': 'YAML front matter blocks removed',
  markup: 'markdown and HTML markup pieces removed',
  urls: 'URLs removed',
  emoji: 'emoji removed',
  control: 'control characters removed',
  invisible: 'zero-width and invisible format characters removed',
  'trailing-spaces': 'lines with trailing spaces or tabs trimmed',
  'blank-lines': 'runs of blank lines collapsed to one',
  edges: 'blank lines removed at the start and end',
};
type Step = keyof typeof DESCRIPTIONS;
type Counts = Partial<Record<Step, number>>;
const ALWAYS: Step[] = ['line-breaks', 'nfc', 'control', 'invisible', 'trailing-spaces'];

export interface CleanStreamOptions {
  /** Count characters and lines for report() (false: a caller that only wants the text saves that time). */
  report?: boolean;
  /** Text gathered before it is cleaned up to a line end (in UTF-16 units). */
  pieceChars?: number;
  /** The most text held waiting for a line end, or for the end of a construct that spans lines. */
  holdChars?: number;
}

const PIECE_CHARS = 1 << 20;
const HOLD_CHARS = 1 << 26;

/**
 * cleanText for text that comes a piece at a time, in documents: the same text out, in pieces,
 * holding at most a piece and what cannot be cleaned yet. It cleans up to a line end, once no
 * construct a rule removes whole is open there (front matter, a comment, a code fence, a link or a
 * tag spanning lines): every step gives the same there as on the whole text, the line breaks of
 * `BlankLines` aside, which carry over. A line, or an open construct, longer than `holdChars` is
 * refused in one line naming `source`.
 */
export class CleanStream {
  private readonly counts: Counts = {};
  private readonly blank: BlankLines;
  private readonly pieceChars: number;
  private readonly holdChars: number;
  private readonly counting: boolean;
  private pending = '';
  private carriedCr = false;
  private first = true;
  /** Where an attempt to cut found a construct open: the next try waits for twice as much. */
  private failedAt = 0;
  private open: Message | undefined;
  private linesDone = 0;
  private documents = 0;
  private charsBefore = 0;
  private charsAfter = 0;
  private linesBefore = 0;
  private linesAfter = 0;
  private lastBefore = 10;
  private lastAfter = 10;

  constructor(
    private readonly options: CleanOptions,
    out: (text: string) => void,
    private readonly source: string,
    opts: CleanStreamOptions = {},
  ) {
    for (const rule of ALWAYS) this.counts[rule] = 0;
    for (const [rule, on] of Object.entries(options)) if (on) this.counts[rule as Step] = 0;
    this.pieceChars = opts.pieceChars ?? PIECE_CHARS;
    this.holdChars = opts.holdChars ?? HOLD_CHARS;
    this.counting = opts.report ?? true;
    this.blank = new BlankLines((text) => {
      if (text.length === 0) return;
      if (this.counting) {
        this.charsAfter += codePointCount(text);
        this.linesAfter += lineBreaks(text);
        this.lastAfter = text.charCodeAt(text.length - 1);
      }
      out(text);
    });
  }

  push(raw: string): void {
    if (raw.length === 0) return;
    if (this.counting) this.charsBefore += codePointCount(raw);
    let text = this.carriedCr ? '\r' + raw : raw;
    this.carriedCr = text.endsWith('\r');
    if (this.carriedCr) text = text.slice(0, -1);
    this.pushLf(text);
    this.cut(false);
    if (this.pending.length > this.holdChars) throw this.heldTooLong();
  }

  endDocument(): void {
    if (this.carriedCr) this.pushLf('\r');
    this.carriedCr = false;
    this.cut(true);
    this.blank.endDocument();
    if (this.lastBefore !== 10) this.linesBefore++;
    if (this.lastAfter !== 10) this.linesAfter++;
    this.lastBefore = this.lastAfter = 10;
    this.first = true;
    this.failedAt = 0;
    this.linesDone = 0;
    this.documents++;
  }

  report(): CleanReport {
    const c = this.counts;
    c['blank-lines'] = this.blank.collapsed;
    c.edges = this.blank.edgesTrimmed;
    const steps: CleanStepReport[] = (Object.keys(DESCRIPTIONS) as Step[])
      .filter((rule) => c[rule] !== undefined)
      .map((rule) => ({ rule, count: c[rule]!, description: DESCRIPTIONS[rule] }));
    return {
      steps,
      charsBefore: this.charsBefore,
      charsAfter: this.charsAfter,
      linesBefore: this.linesBefore,
      linesAfter: this.linesAfter,
    };
  }

  private pushLf(text: string): void {
    const [lf, n] = replaceCounted(text, /\r\n?/g, '\n');
    add(this.counts, 'line-breaks', n);
    if (lf.length === 0) return;
    if (this.counting) {
      this.linesBefore += lineBreaks(lf);
      this.lastBefore = lf.charCodeAt(lf.length - 1);
    }
    this.pending += lf;
  }

  /** Cleans the pending text up to a line end where nothing is open (all of it at a document's end). */
  private cut(last: boolean): void {
    for (;;) {
      if (last) {
        if (this.pending.length > 0 || this.first) this.clean(this.pending, true);
        this.pending = '';
        return;
      }
      const want = Math.max(this.pieceChars, 2 * this.failedAt);
      if (this.pending.length < want) return;
      // Up to the first line end past `want`, or, with nothing open, to the last one before.
      let at = this.pending.indexOf('\n', want - 1) + 1;
      if (at === 0 && this.failedAt === 0) at = this.pending.lastIndexOf('\n') + 1;
      if (at === 0) return;
      if (!this.clean(this.pending.slice(0, at), false)) {
        this.failedAt = at;
        continue;
      }
      this.pending = this.pending.slice(at);
      this.failedAt = 0;
    }
  }

  /** Cleans a piece, or returns false (counting nothing) when it ends inside a construct. */
  private clean(piece: string, last: boolean): boolean {
    const counts: Counts = {};
    const step = (rule: Step, f: (t: string) => [string, number]) => {
      const [out, n] = f(text);
      text = out;
      add(counts, rule, n);
    };
    let text = piece.normalize('NFC');
    add(counts, 'nfc', nfcChanges(piece, text));
    const o = this.options;
    if (o['front-matter'] && this.first) {
      if (!last && frontMatterOpen(text)) return this.isOpen(message('front matter (---)'));
      step('front-matter', stripFrontMatter);
    }
    if (o.markup) {
      const stripped = stripMarkupPiece(text, last);
      if (!Array.isArray(stripped)) return this.isOpen(stripped);
      [text] = stripped;
      add(counts, 'markup', stripped[1]);
    }
    if (o.urls) step('urls', stripUrls);
    if (o.emoji) step('emoji', stripEmoji);
    step('control', (t) => replaceCounted(t, CONTROL, ''));
    step('invisible', (t) => replaceCounted(t, INVISIBLE, ''));
    step('trailing-spaces', (t) => replaceCounted(t, /[ \t]+$/gm, ''));
    for (const [rule, n] of Object.entries(counts)) add(this.counts, rule as Step, n);
    this.blank.push(text);
    this.first = false;
    this.open = undefined;
    this.linesDone += lineBreaks(piece);
    return true;
  }

  private isOpen(what: Message): false {
    this.open = what;
    return false;
  }

  private heldTooLong(): UserError {
    const where = this.documents > 0 ? `${this.source} (document ${this.documents + 1})` : this.source;
    const size = this.holdChars.toLocaleString('en-US');
    if (this.open)
      return new UserError(
        '{0}: from line {1} on, {2} is not closed within {3} characters, so it cannot be cleaned a piece at a time: close it, or leave out its rule',
        where,
        this.linesDone + 1,
        this.open,
        size,
      );
    return new UserError(
      '{0}: line {1} is longer than {2} characters, so it cannot be cleaned a piece at a time: break it into lines',
      where,
      this.linesDone + lineBreaks(this.pending) + 1,
      size,
    );
  }
}

function add(counts: Counts, rule: Step, n: number): void {
  counts[rule] = (counts[rule] ?? 0) + n;
}

function lineBreaks(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** Characters NFC changed, line by line (NFC keeps line breaks where they are). */
function nfcChanges(before: string, after: string): number {
  if (before === after) return 0;
  const a = before.split('\n');
  const b = after.split('\n');
  let n = 0;
  for (let i = 0; i < a.length; i++)
    if (a[i] !== b[i]) n += Math.abs(codePointCount(a[i]) - codePointCount(b[i])) || countDiffs(a[i], b[i]);
  return n;
}

/** Characters that differ at the same position, for texts of as many characters. */
function countDiffs(a: string, b: string): number {
  const x = a[Symbol.iterator]();
  const y = b[Symbol.iterator]();
  let n = 0;
  for (let p = x.next(), q = y.next(); !p.done && !q.done; p = x.next(), q = y.next()) if (p.value !== q.value) n++;
  return n;
}
