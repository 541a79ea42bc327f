import { codePointCount } from '../code-points';
import { UserError } from '../errors';
import { stripFrontMatter, stripMarkup, stripUrls, stripEmoji } from './optional-rules';
import { replaceCounted } from './replace-counted';

export type CleanRule = 'markup' | 'urls' | 'front-matter' | 'emoji';
export const CLEAN_RULES: readonly CleanRule[] = ['front-matter', 'markup', 'urls', 'emoji'];

export type CleanOptions = Partial<Record<CleanRule, boolean>>;

export interface CleanStepReport {
  rule: string;
  count: number;
  description: string;
}

export interface CleanReport {
  steps: CleanStepReport[];
  charsBefore: number;
  charsAfter: number;
  linesBefore: number;
  linesAfter: number;
}

// Invisible characters that carry nothing for training. ZWJ (U+200D) and ZWNJ (U+200C) are kept:
// they join emoji sequences and shape Persian, Indic and other scripts; variation selectors too.
const INVISIBLE = /[\u00AD\u180E\u200B\u200E\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/g;
// Control characters (Cc) other than tab and line feed; CR is handled as a line break first.
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/g;

/**
 * Normalises a text for training. Always: NFC (which composes conjoining Hangul Jamo into
 * syllables), line breaks to LF, no control or zero-width characters, no trailing spaces, at most
 * one blank line in a row, one final newline. Optional rules remove markup, URLs, front matter, emoji.
 */
export function cleanText(input: string, options: CleanOptions = {}): { text: string; report: CleanReport } {
  const steps: CleanStepReport[] = [];
  let text = input;
  const step = (rule: string, description: string, f: (t: string) => [string, number]) => {
    const [out, count] = f(text);
    text = out;
    steps.push({ rule, count, description });
  };

  step('line-breaks', 'CRLF and CR line breaks made LF', (t) => replaceCounted(t, /\r\n?/g, '\n'));
  const linesBefore = lineCount(text);
  step('nfc', 'characters changed by Unicode NFC normalisation', (t) => {
    const n = t.normalize('NFC');
    return [n, n === t ? 0 : Math.abs(codePointCount(t) - codePointCount(n)) || countDiffs(t, n)];
  });
  if (options['front-matter']) step('front-matter', 'YAML front matter blocks removed', stripFrontMatter);
  if (options.markup) step('markup', 'markdown and HTML markup pieces removed', stripMarkup);
  if (options.urls) step('urls', 'URLs removed', stripUrls);
  if (options.emoji) step('emoji', 'emoji removed', stripEmoji);
  step('control', 'control characters removed', (t) => replaceCounted(t, CONTROL, ''));
  step('invisible', 'zero-width and invisible format characters removed', (t) => replaceCounted(t, INVISIBLE, ''));
  step('trailing-spaces', 'lines with trailing spaces or tabs trimmed', (t) => replaceCounted(t, /[ \t]+$/gm, ''));
  step('blank-lines', 'runs of blank lines collapsed to one', (t) => replaceCounted(t, /\n{3,}/g, '\n\n'));
  step('edges', 'blank lines removed at the start and end', (t) => {
    const trimmed = t.replace(/^\n+/, '').replace(/\n*$/, '');
    const out = trimmed.length > 0 ? trimmed + '\n' : '';
    return [out, out === t ? 0 : 1];
  });
  return {
    text,
    report: {
      steps,
      charsBefore: codePointCount(input),
      charsAfter: codePointCount(text),
      linesBefore,
      linesAfter: lineCount(text),
    },
  };
}

// The counts below walk the text: arrays of its characters or lines would outweigh it many times.

function lineCount(text: string): number {
  if (text.length === 0) return 0;
  let breaks = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) breaks++;
  return breaks + (text.endsWith('\n') ? 0 : 1);
}

/** Characters that differ at the same position, for texts of as many characters. */
function countDiffs(a: string, b: string): number {
  const x = a[Symbol.iterator]();
  const y = b[Symbol.iterator]();
  let n = 0;
  for (let p = x.next(), q = y.next(); !p.done && !q.done; p = x.next(), q = y.next()) if (p.value !== q.value) n++;
  return n;
}

/** Parses `--rules a,b,c`; unknown names are a UserError listing the valid ones. */
export function parseCleanRules(list: string): CleanOptions {
  const options: CleanOptions = {};
  for (const raw of list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const name = raw === 'frontmatter' || raw === 'front_matter' ? 'front-matter' : raw;
    if (!CLEAN_RULES.includes(name as CleanRule))
      throw new UserError('unknown clean rule "{0}": choose from {1}', raw, CLEAN_RULES.join(', '));
    options[name as CleanRule] = true;
  }
  return options;
}
