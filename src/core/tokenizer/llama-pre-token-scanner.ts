import { APOSTROPHE, LETTER, NUMBER, OTHER, SPACE, bmp, classAt, widthAt } from './pre-token-scanner';

const isLineBreak = (c: number) => c === 0x0a || c === 0x0d;

/** The pattern's (?i:…) folds ASCII letters (and s to ſ, which has no ASCII lower case). */
const asciiLower = (c: string) => (c >= 'A' && c <= 'Z' ? c.toLowerCase() : c);

/** The length of a contraction at i, any case ('s 'S 'ſ 't 're 've 'm 'll 'd), or 0. */
function contractionLength(text: string, i: number, end: number): number {
  if (i + 1 >= end) return 0;
  const a = text[i + 1];
  if ('sStTmMdDſ'.includes(a)) return 2;
  if (i + 2 >= end) return 0;
  const ab = asciiLower(a) + asciiLower(text[i + 2]);
  return ab === 're' || ab === 've' || ab === 'll' ? 3 : 0;
}

/**
 * Calls piece(start, end) for each piece LLAMA3_SPLIT (maxDigits 3) or QWEN2_SPLIT (1) finds in
 * text[start, end) searched on its own, as a scan over character classes (\s being White_Space,
 * as the library rewrites it): "(?i:'s|…)", "[^\r\n\p{L}\p{N}]?\p{L}+", "\p{N}{1,maxDigits}",
 * " ?[^\s\p{L}\p{N}]+[\r\n]*", "\s*[\r\n]+", "\s+(?!\S)", "\s+", the first that matches.
 */
export function forEachLlamaPreToken(
  text: string,
  start: number,
  end: number,
  maxDigits: number,
  piece: (start: number, end: number) => void,
): void {
  const table = bmp();
  let i = start;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c === APOSTROPHE) {
      const n = contractionLength(text, i, end);
      if (n > 0) {
        piece(i, i + n);
        i += n;
        continue;
      }
    }
    const cls = classAt(text, i, end, table);
    const width = widthAt(text, i, end);
    let j = i;
    if (cls === LETTER || (cls !== NUMBER && !isLineBreak(c) && i + width < end && classAt(text, i + width, end, table) === LETTER)) {
      if (cls !== LETTER) j += width;
      while (j < end && classAt(text, j, end, table) === LETTER) j += widthAt(text, j, end);
    } else if (cls === NUMBER) {
      for (let n = 0; n < maxDigits && j < end && classAt(text, j, end, table) === NUMBER; n++) j += widthAt(text, j, end);
    } else if (cls === OTHER || (c === 0x20 && i + 1 < end && classAt(text, i + 1, end, table) === OTHER)) {
      if (cls !== OTHER) j++;
      while (j < end && classAt(text, j, end, table) === OTHER) j += widthAt(text, j, end);
      while (j < end && isLineBreak(text.charCodeAt(j))) j++;
    } else {
      // Whitespace (all of it in the BMP): up to its last line break, else the run less its last
      // character when a non-space follows and the run is longer than one.
      let lastBreak = -1;
      while (j < end && table[text.charCodeAt(j)] === SPACE) if (isLineBreak(text.charCodeAt(j++))) lastBreak = j;
      if (lastBreak >= 0) j = lastBreak;
      else if (j < end && j - i > 1) j--;
    }
    piece(i, j);
    i = j;
  }
}
