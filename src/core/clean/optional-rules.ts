import { replaceCounted } from './replace-counted';

export function stripFrontMatter(text: string): [string, number] {
  return replaceCounted(text, /^---[ \t]*\n[\s\S]*?\n(?:---|\.\.\.)[ \t]*(?:\n|$)/, '');
}

const HTML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** Markdown syntax and HTML tags, comments and entities; the words inside stay. */
export function stripMarkup(text: string): [string, number] {
  let total = 0;
  const apply = (re: RegExp, rep: string | ((m: string, ...g: string[]) => string)) => {
    const [out, n] = replaceCounted(text, re, rep);
    text = out;
    total += n;
  };
  apply(/<!--[\s\S]*?-->/g, '');
  apply(/```[^\n]*\n([\s\S]*?)```/g, (_m, body) => body);
  apply(/!\[([^\]]*)\]\([^)]*\)/g, (_m, alt) => alt);
  apply(/\[([^\]]+)\]\([^)]*\)/g, (_m, label) => label);
  apply(/<\/?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?\/?>/g, '');
  apply(/&(amp|lt|gt|quot|apos|nbsp);/g, (_m, name) => HTML_ENTITIES[name]);
  apply(/&#(\d+);/g, (_m, code) => String.fromCodePoint(Number(code)));
  apply(/^[ \t]{0,3}#{1,6}[ \t]+/gm, '');
  apply(/^[ \t]{0,3}>[ \t]?/gm, '');
  apply(/^[ \t]*(?:[-*_][ \t]*){3,}$/gm, '');
  apply(/^([ \t]*)[-*+][ \t]+/gm, (_m, indent) => indent);
  apply(/(\*\*|__)(?=\S)([^\n]*?\S)\1/g, (_m, _d, inner) => inner);
  apply(/(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?!\w)/g, (_m, inner) => inner);
  apply(/(?<![\p{L}\p{N}_])_(?=\S)([^_\n]*?\S)_(?![\p{L}\p{N}_])/gu, (_m, inner) => inner);
  apply(/`([^`\n]+)`/g, (_m, inner) => inner);
  return [text, total];
}

export function stripUrls(text: string): [string, number] {
  return removeBetweenWords(text, /\b(?:https?:\/\/|www\.)[^\s<>"'）)\]]+[^\s<>"'.,;:!?）)\]]/giu);
}

/**
 * Removes every match; where one stood between two spaces (or at a line's start before a space)
 * the space after it goes too, so "see <url> now" becomes "see now", not "see  now".
 */
function removeBetweenWords(text: string, re: RegExp): [string, number] {
  let out = '';
  let last = 0;
  let count = 0;
  for (const m of text.matchAll(re)) {
    const start = m.index;
    let end = start + m[0].length;
    out += text.slice(last, start);
    const before = out.length === 0 ? '\n' : out[out.length - 1];
    if ((before === ' ' || before === '\t' || before === '\n') && (text[end] === ' ' || text[end] === '\t')) end++;
    last = end;
    count++;
  }
  return [out + text.slice(last), count];
}

// An emoji: a pictograph or flag pair with its modifiers, variation selectors and ZWJ-joined parts.
const EMOJI =
  /(?:\p{Regional_Indicator}{2}|[\p{Extended_Pictographic}\p{Emoji_Modifier}](?:\uFE0F|\p{Emoji_Modifier}|\u20E3)*(?:\u200D[\p{Extended_Pictographic}\p{Emoji_Modifier}](?:\uFE0F|\p{Emoji_Modifier})*)*)|[0-9#*]\uFE0F?\u20E3/gu;

export function stripEmoji(text: string): [string, number] {
  return removeBetweenWords(text, EMOJI);
}
