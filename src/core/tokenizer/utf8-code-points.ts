/**
 * The code points of UTF-8 bytes into `into` (at least bytes.length long); returns how many. The
 * bytes must be whole characters of valid UTF-8 (a prepared corpus's chunks are checked first): any
 * other bytes give wrong code points, never an error.
 */
export function utf8CodePoints(bytes: Uint8Array, into: Int32Array): number {
  const end = bytes.length;
  let n = 0;
  for (let i = 0; i < end;) {
    const b = bytes[i];
    if (b < 0x80) {
      into[n++] = b;
      i += 1;
    } else if (b < 0xe0) {
      into[n++] = ((b & 0x1f) << 6) | (bytes[i + 1] & 0x3f);
      i += 2;
    } else if (b < 0xf0) {
      into[n++] = ((b & 0x0f) << 12) | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f);
      i += 3;
    } else {
      into[n++] = ((b & 0x07) << 18) | ((bytes[i + 1] & 0x3f) << 12) | ((bytes[i + 2] & 0x3f) << 6) | (bytes[i + 3] & 0x3f);
      i += 4;
    }
  }
  return n;
}
