// GPT2_SPLIT (bytes-to-unicode.ts) as a scan over character classes: the same pieces without a
// match object or string per piece, which is where a regex spends its time on a large corpus.

export const OTHER = 0;
export const LETTER = 1;
export const NUMBER = 2;
export const SPACE = 3;

const LETTER_RE = /^\p{L}$/u;
const NUMBER_RE = /^\p{N}$/u;
const SPACE_RE = /^\p{White_Space}$/u;

function classOfCodePoint(c: string): number {
  if (LETTER_RE.test(c)) return LETTER;
  if (NUMBER_RE.test(c)) return NUMBER;
  return SPACE_RE.test(c) ? SPACE : OTHER;
}

let bmpClasses: Uint8Array | undefined;
const astralClasses = new Map<number, number>();

/** The class of every BMP code point (OTHER, LETTER, NUMBER, SPACE), made once. */
export function bmp(): Uint8Array {
  if (bmpClasses) return bmpClasses;
  bmpClasses = new Uint8Array(0x10000);
  for (let c = 0; c < 0x10000; c++) {
    // A lone surrogate matches none of the classes, as in a /u regex.
    if (c < 0xd800 || c > 0xdfff) bmpClasses[c] = classOfCodePoint(String.fromCharCode(c));
  }
  return bmpClasses;
}

/** The class of the code point at i (a surrogate pair counts as its code point). */
export function classAt(text: string, i: number, end: number, table: Uint8Array): number {
  const c = text.charCodeAt(i);
  if (c < 0xd800 || c > 0xdbff || i + 1 >= end) return table[c];
  const low = text.charCodeAt(i + 1);
  if (low < 0xdc00 || low > 0xdfff) return OTHER;
  const cp = ((c - 0xd800) << 10) + (low - 0xdc00) + 0x10000;
  let cls = astralClasses.get(cp);
  if (cls === undefined) astralClasses.set(cp, (cls = classOfCodePoint(String.fromCodePoint(cp))));
  return cls;
}

/** 1, or 2 for a surrogate pair. */
export function widthAt(text: string, i: number, end: number): number {
  const c = text.charCodeAt(i);
  if (c < 0xd800 || c > 0xdbff || i + 1 >= end) return 1;
  const low = text.charCodeAt(i + 1);
  return low >= 0xdc00 && low <= 0xdfff ? 2 : 1;
}

export const APOSTROPHE = 0x27;

/** The length of a contraction ('s 't 'm 'd 're 've 'll) at i, or 0. */
function contractionLength(text: string, i: number, end: number): number {
  if (i + 1 >= end) return 0;
  const a = text[i + 1];
  if (a === 's' || a === 't' || a === 'm' || a === 'd') return 2;
  if (i + 2 >= end) return 0;
  const ab = a + text[i + 2];
  return ab === 're' || ab === 've' || ab === 'll' ? 3 : 0;
}

/**
 * Calls piece(start, end) for each piece GPT2_SPLIT finds in text[start, end): "'s"…, " ?\p{L}+",
 * " ?\p{N}+", " ?[^\s\p{L}\p{N}]+", "\s+(?!\S)", "\s+" (\s being White_Space, as in Rust).
 */
export function forEachPreToken(text: string, start: number, end: number, piece: (start: number, end: number) => void): void {
  const table = bmp();
  let i = start;
  while (i < end) {
    if (text.charCodeAt(i) === APOSTROPHE) {
      const n = contractionLength(text, i, end);
      if (n > 0) {
        piece(i, i + n);
        i += n;
        continue;
      }
    }
    let j = i;
    let cls = classAt(text, i, end, table);
    if (text.charCodeAt(i) === 0x20 && i + 1 < end && classAt(text, i + 1, end, table) !== SPACE) {
      j = i + 1;
      cls = classAt(text, j, end, table);
    }
    if (cls !== SPACE) {
      j += widthAt(text, j, end);
      while (j < end && classAt(text, j, end, table) === cls) j += widthAt(text, j, end);
      piece(i, j);
      i = j;
      continue;
    }
    // Whitespace (all of it in the BMP): the run, less its last character when a non-space follows
    // and the run is longer than one, so that character can lead the next piece.
    while (j < end && table[text.charCodeAt(j)] === SPACE) j++;
    if (j < end && j - i > 1) j--;
    piece(i, j);
    i = j;
  }
}
