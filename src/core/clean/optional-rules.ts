import { Message, message } from '../errors';
import { replaceCounted } from './replace-counted';

const FRONT_MATTER = /^---[ \t]*\n[\s\S]*?\n(?:---|\.\.\.)[ \t]*(?:\n|$)/;
const FRONT_MATTER_START = /^---[ \t]*\n/;

export function stripFrontMatter(text: string): [string, number] {
  return replaceCounted(text, FRONT_MATTER, '');
}

/** True when `text` opens front matter that it does not close: its end may come in text not seen yet. */
export function frontMatterOpen(text: string): boolean {
  return FRONT_MATTER_START.test(text) && !FRONT_MATTER.test(text);
}

const HTML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

type Replacement = string | ((m: string, ...g: string[]) => string);

/**
 * One markdown or HTML construct. `open` is for the constructs that may span lines: given the text
 * after the replacement, whether it ends inside one (an opener whose end may come in text not seen
 * yet). A start that could still match is never inside a match and no match follows it, so it
 * stands in the replaced text as it was.
 */
interface MarkupStep {
  re: RegExp;
  replacement: Replacement;
  open?: { what: Message; test: (text: string) => boolean };
}

const MARKUP_STEPS: MarkupStep[] = [
  { re: /<!--[\s\S]*?-->/g, replacement: '', open: { what: message('an HTML comment (<!--)'), test: (t) => t.includes('<!--') } },
  {
    re: /```[^\n]*\n([\s\S]*?)```/g,
    replacement: (_m, body) => body,
    open: { what: message('a code fence (```)'), test: (t) => t.includes('```') },
  },
  {
    re: /!\[([^\]]*)\]\([^)]*\)/g,
    replacement: (_m, alt) => alt,
    open: { what: message('an image (![…](…))'), test: (t) => bracketOpen(t, '![') },
  },
  {
    re: /\[([^\]]+)\]\([^)]*\)/g,
    replacement: (_m, label) => label,
    open: { what: message('a link ([…](…))'), test: (t) => bracketOpen(t, '[') },
  },
  {
    re: /<\/?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?\/?>/g,
    replacement: '',
    open: { what: message('an HTML tag (<…>)'), test: tagOpen },
  },
  { re: /&(amp|lt|gt|quot|apos|nbsp);/g, replacement: (_m, name) => HTML_ENTITIES[name] },
  { re: /&#(\d+);/g, replacement: (m, code) => (isScalarValue(Number(code)) ? String.fromCodePoint(Number(code)) : m) },
  { re: /^[ \t]{0,3}#{1,6}[ \t]+/gm, replacement: '' },
  { re: /^[ \t]{0,3}>[ \t]?/gm, replacement: '' },
  { re: /^[ \t]*(?:[-*_][ \t]*){3,}$/gm, replacement: '' },
  { re: /^([ \t]*)[-*+][ \t]+/gm, replacement: (_m, indent) => indent },
  { re: /(\*\*|__)(?=\S)([^\n]*?\S)\1/g, replacement: (_m, _d, inner) => inner },
  { re: /(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?!\w)/g, replacement: (_m, inner) => inner },
  { re: /(?<![\p{L}\p{N}_])_(?=\S)([^_\n]*?\S)_(?![\p{L}\p{N}_])/gu, replacement: (_m, inner) => inner },
  { re: /`([^`\n]+)`/g, replacement: (_m, inner) => inner },
];

/**
 * Markdown syntax and HTML tags, comments and entities removed (the words inside stay) from the
 * text up to a line end; or, when `last` is false and a construct that spans
 * lines is still open at its end, what it is: the text cannot end there, since that construct's
 * end may come after it.
 */
export function stripMarkupPiece(text: string, last: boolean): [string, number] | Message {
  let total = 0;
  for (const step of MARKUP_STEPS) {
    const [out, n] = replaceCounted(text, step.re, step.replacement);
    if (!last && step.open?.test(out)) return step.open.what;
    text = out;
    total += n;
  }
  return [text, total];
}

/** A code point a text may hold: none past U+10FFFF, no lone surrogate. */
function isScalarValue(code: number): boolean {
  return code <= 0x10ffff && (code < 0xd800 || code > 0xdfff);
}

/**
 * Whether `opener` (`[` or `![`) starts a link or image whose end may come later: no `]` after it,
 * or its first `]` is followed by `(` and no `)` comes after that.
 */
function bracketOpen(t: string, opener: string): boolean {
  if (t.lastIndexOf(opener) > t.lastIndexOf(']')) return true;
  for (let close = t.indexOf('](', t.lastIndexOf(')') + 1); close >= 0; close = t.indexOf('](', close + 1))
    if (t.lastIndexOf(opener, close - 1) > t.lastIndexOf(']', close - 1)) return true;
  return false;
}

/** Whether the text ends inside a tag: `<name` and a space, then no `<` or `>` to its end. */
function tagOpen(t: string): boolean {
  const lt = t.lastIndexOf('<');
  return lt > t.lastIndexOf('>') && /^<\/?[A-Za-z][A-Za-z0-9-]*\s[^<>]*$/.test(t.slice(lt));
}

export function stripUrls(text: string): [string, number] {
  // Every URL holds one of these: a text without them is left as it is, without the slower scan.
  if (!/https?:\/\/|www\./i.test(text)) return [text, 0];
  return removeBetweenWords(text, /\b(?:https?:\/\/|www\.)[^\s<>"'）)\]]+[^\s<>"'.,;:!?）)\]]/giu);
}

/**
 * Removes every match; where one stood between two spaces (or at a line's start before a space)
 * the space after it goes too, so "see <url> now" becomes "see now", not "see  now".
 */
function removeBetweenWords(text: string, re: RegExp): [string, number] {
  const kept: string[] = [];
  // The character before a match in the text kept so far (indexing the joined text would copy it each time).
  let before = '\n';
  let last = 0;
  let count = 0;
  for (const m of text.matchAll(re)) {
    const start = m.index;
    let end = start + m[0].length;
    if (start > last) {
      kept.push(text.slice(last, start));
      before = text[start - 1];
    }
    if ((before === ' ' || before === '\t' || before === '\n') && (text[end] === ' ' || text[end] === '\t')) end++;
    last = end;
    count++;
  }
  kept.push(text.slice(last));
  return [kept.join(''), count];
}

// An emoji: a pictograph or flag pair with its modifiers, variation selectors and ZWJ-joined parts.
const EMOJI =
  /(?:\p{Regional_Indicator}{2}|[\p{Extended_Pictographic}\p{Emoji_Modifier}](?:\uFE0F|\p{Emoji_Modifier}|\u20E3)*(?:\u200D[\p{Extended_Pictographic}\p{Emoji_Modifier}](?:\uFE0F|\p{Emoji_Modifier})*)*)|[0-9#*]\uFE0F?\u20E3/gu;

export function stripEmoji(text: string): [string, number] {
  emojiUnits ??= emojiCodeUnits();
  if (!hasUnitOf(text, emojiUnits)) return [text, 0];
  return removeBetweenWords(text, EMOJI);
}

let emojiUnits: Uint8Array | undefined;

/**
 * The UTF-16 units an emoji starts with, flagged: the characters EMOJI starts a match with (the
 * high surrogate of those past the BMP) and U+20E3, which its keycaps hold. A text with none of
 * them has no emoji, and looking for them is several times faster than EMOJI's scan.
 */
function emojiCodeUnits(): Uint8Array {
  const start = /[\p{Regional_Indicator}\p{Extended_Pictographic}\p{Emoji_Modifier}\u20E3]/u;
  const units = new Uint8Array(0x10000);
  for (let c = 0; c <= 0x10ffff; c++) {
    if ((c < 0xd800 || c > 0xdfff) && start.test(String.fromCodePoint(c))) units[c > 0xffff ? 0xd800 + ((c - 0x10000) >> 10) : c] = 1;
  }
  return units;
}

function hasUnitOf(text: string, units: Uint8Array): boolean {
  for (let i = 0; i < text.length; i++) if (units[text.charCodeAt(i)] === 1) return true;
  return false;
}
