import { readFile, rename, writeFile } from 'node:fs/promises';

/**
 * The folders a panel shows, in a file its serializer reads after a window reload. A browser-hosted
 * workbench (code-server) may store a webview's own state long after it changed; this file is
 * written the moment the panel changes. Writes never block and one runs at a time, of the state
 * when it starts (two at once into the same temporary file mixed their bytes); a failure only loses
 * what a reload would bring back.
 */
export class PanelStateFile {
  private static readonly byPath = new Map<string, PanelStateFile>();
  private saving: Promise<void> = Promise.resolve();

  /** The one object for this file, so its writes stay one at a time. */
  static at(file: string): PanelStateFile {
    let f = PanelStateFile.byPath.get(file);
    if (!f) PanelStateFile.byPath.set(file, (f = new PanelStateFile(file)));
    return f;
  }

  private constructor(readonly file: string) {}

  remember(state: object): void {
    const temp = `${this.file}.${process.pid}.tmp`;
    this.saving = this.saving
      .then(() => writeFile(temp, JSON.stringify(state)))
      .then(() => rename(temp, this.file))
      .catch(() => undefined);
  }

  /** What was remembered last, undefined when there is nothing readable (it is checked by the reader). */
  async read(): Promise<unknown> {
    return readFile(this.file, 'utf8').then(
      (t) => JSON.parse(t) as unknown,
      () => undefined,
    );
  }
}
