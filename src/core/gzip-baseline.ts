/**
 * gzip -9 is a baseline only on a held-out text at least as long as DEFLATE's 32 KiB window: on a
 * shorter one it is still learning the text it compresses (test/fixtures/speech-ko.txt: 4.89 bits
 * per byte for its first 1 KiB, 2.87 for 8 KiB), and on a fine-tune's 1 KB of answers it read
 * worse than guessing every token evenly.
 */
export const GZIP_BASELINE_MIN_BYTES = 32 * 1024;

/** gzip's bits per byte where it means something, undefined when the held-out text is too short for it. */
export function shownGzipBitsPerByte(b: { gzip_bits_per_byte: number }, heldOutBytes: number): number | undefined {
  return heldOutBytes >= GZIP_BASELINE_MIN_BYTES ? b.gzip_bits_per_byte : undefined;
}
