/** Turns a stream of byte chunks into text without ever emitting half of a multi-byte character. */
export class Utf8StreamDecoder {
  private readonly decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

  push(bytes: Uint8Array): string {
    return this.decoder.decode(bytes, { stream: true });
  }

  /** Whatever is left; an unfinished character at the very end becomes U+FFFD. */
  flush(): string {
    return this.decoder.decode();
  }
}
