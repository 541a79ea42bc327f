/**
 * The last two steps of cleaning, on text that comes a piece at a time: runs of three or more line
 * breaks become one blank line, and a document loses its blank lines at the start and the end and
 * ends with one line break. A piece's closing line breaks wait for what follows them.
 */
export class BlankLines {
  /** Runs of three or more line breaks collapsed. */
  collapsed = 0;
  /** Documents whose start or end changed. */
  edgesTrimmed = 0;
  private held = 0;
  private started = false;
  private edgeChanged = false;

  constructor(private readonly out: (text: string) => void) {}

  push(text: string): void {
    let from = 0;
    while (text.charCodeAt(from) === 10) from++;
    if (from === text.length) {
      this.held += from;
      return;
    }
    let to = text.length;
    while (text.charCodeAt(to - 1) === 10) to--;
    const run = this.held + from;
    if (run >= 3) this.collapsed++;
    if (!this.started && run > 0) this.edgeChanged = true;
    let body = this.started ? '\n'.repeat(Math.min(run, 2)) : '';
    for (let i = text.indexOf('\n\n\n', from); i >= 0 && i < to; i = text.indexOf('\n\n\n', i)) {
      let end = i + 3;
      while (text.charCodeAt(end) === 10) end++;
      body += text.slice(from, i) + '\n\n';
      from = end;
      i = end;
      this.collapsed++;
    }
    this.out(body + text.slice(from, to));
    this.started = true;
    this.held = text.length - to;
  }

  /** The document's end: one final line break after any text. Ready for the next document. */
  endDocument(): void {
    if (this.held >= 3) this.collapsed++;
    if (this.started) {
      this.out('\n');
      if (this.held !== 1) this.edgeChanged = true;
    } else if (this.held > 0) this.edgeChanged = true;
    if (this.edgeChanged) this.edgesTrimmed++;
    this.held = 0;
    this.started = false;
    this.edgeChanged = false;
  }
}
