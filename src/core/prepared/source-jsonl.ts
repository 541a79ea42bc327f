import { UserError } from '../errors';
import { FORMAT_KEYS, SftExample, SftLines } from '../sft-data';
import { sha256Hex } from './prepared-cache';
import { SourceFile, StreamOptions, TextSink, textFileSteps } from './source-text';
import { Steps } from './steps';

// A chunk's text over ~128 KB is a string in V8's large-object space, freed only by a full GC that
// comes once the heap has grown: a 130 MB .jsonl of 4 MB chunks peaked at 241 MB RSS, of 64 KB 144 MB.
const LINE_CHUNK_BYTES = 64 << 10;

/** Tells a .jsonl's prepared documents from the same bytes prepared as plain text (another cache entry). */
export const JSONL_TEXTS = 'jsonl-text';

/** The sha256 a .jsonl's preparations are keyed by (JSONL_TEXTS and the file's own). */
export function jsonlSha256(fileSha256: string): string {
  return sha256Hex(`${JSONL_TEXTS}\0${fileSha256}`);
}

/**
 * A .jsonl of {"text"} examples read a line at a time, each example's text one document (`onText`,
 * then `onDocumentEnd`); a bad line is a one-line error naming the file and the line. Returns the
 * file's size and its jsonlSha256.
 */
export function* jsonlTextSteps(path: string, onText: TextSink, onDocumentEnd: () => void, opts: StreamOptions = {}): Steps<SourceFile> {
  const file = yield* jsonlExampleSteps(
    path,
    (example, line) => {
      if (example.format !== 'text')
        throw new UserError(
          '{0} line {1} is in the format {2}: train reads {3} lines; fine-tune on it instead (corpus-lab finetune BASE {0})',
          path,
          line,
          FORMAT_KEYS[example.format],
          FORMAT_KEYS.text,
        );
      if (typeof onText === 'function') onText(example.text);
      else onText.utf8(Buffer.from(example.text));
      onDocumentEnd();
    },
    opts,
  );
  return { ...file, sha256: jsonlSha256(file.sha256) };
}

/**
 * A .jsonl of examples in any of TRL's formats, one line at a time (memory holds a chunk and a
 * line, never the file): each example with its line number; a bad line is a one-line error naming
 * the file and the line. Returns the file's size and sha256.
 */
export function* jsonlExampleSteps(
  path: string,
  onExample: (example: SftExample, line: number) => void,
  opts: StreamOptions = {},
): Steps<SourceFile> {
  const lines = new SftLines(path);
  let pending = '';
  let at = 0;
  const line = (text: string) => {
    const example = lines.parse(text, ++at);
    if (example) onExample(example, at);
  };
  const file = yield* textFileSteps(
    path,
    (text) => {
      const parts = (pending + text).split('\n');
      pending = parts.pop()!;
      for (const part of parts) line(part);
    },
    { chunkBytes: LINE_CHUNK_BYTES, ...opts },
  );
  line(pending);
  lines.end();
  return file;
}
