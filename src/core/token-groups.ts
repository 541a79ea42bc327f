/** Tokens shown together: one or more whole characters, with the ids of the tokens that spell them. */
export interface TokenGroup {
  text: string;
  ids: number[];
}

/**
 * Groups consecutive tokens until their bytes end on a character boundary, so the byte tokens of
 * one Hangul syllable (or emoji) show as that character with all their ids, as tiktokenizer does.
 * Bytes still incomplete at the end show as hex.
 */
export function groupTokens(tokens: ReadonlyArray<{ id: number; bytes: ArrayLike<number> }>): TokenGroup[] {
  const groups: TokenGroup[] = [];
  let ids: number[] = [];
  let bytes: number[] = [];
  const flush = (complete: boolean) => {
    if (ids.length === 0) return;
    const text = complete
      ? new TextDecoder().decode(Uint8Array.from(bytes))
      : bytes.map((b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`).join('');
    groups.push({ text, ids });
    ids = [];
    bytes = [];
  };
  for (const t of tokens) {
    ids.push(t.id);
    bytes.push(...Array.from(t.bytes));
    if (endsOnBoundary(bytes)) flush(true);
  }
  flush(false);
  return groups;
}

/** True when the last character of these UTF-8 bytes is complete. */
function endsOnBoundary(bytes: number[]): boolean {
  for (let back = 1; back <= Math.min(4, bytes.length); back++) {
    const b = bytes[bytes.length - back];
    if ((b & 0xc0) === 0x80) continue;
    const need = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return back >= need;
  }
  // Only continuation bytes: incomplete while a lead byte could still be before them, else invalid.
  return bytes.length >= 4;
}
