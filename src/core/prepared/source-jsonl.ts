import { UserError } from '../errors';
import { FORMAT_KEYS, SftLines } from '../sft-data';
import { sha256Hex } from './prepared-cache';
import { SourceFile, StreamOptions, TextSink, textFileSteps } from './source-text';
import { Steps } from './steps';

/** Tells a .jsonl's prepared documents from the same bytes prepared as plain text (another cache entry). */
export const JSONL_TEXTS = 'jsonl-text';

/**
 * A .jsonl of {"text"} examples read a line at a time, each example's text one document (`onText`,
 * then `onDocumentEnd`); a bad line is a one-line error naming the file and the line. Returns the
 * file's size and a sha256 of its own (JSONL_TEXTS and the file's).
 */
export function* jsonlTextSteps(path: string, onText: TextSink, onDocumentEnd: () => void, opts: StreamOptions = {}): Steps<SourceFile> {
  const lines = new SftLines(path);
  let pending = '';
  let at = 0;
  const line = (text: string) => {
    const example = lines.parse(text, ++at);
    if (!example) return;
    if (example.format !== 'text')
      throw new UserError(
        '{0} line {1} is in the format {2}: train reads {3} lines; fine-tune on it instead (corpus-lab finetune BASE {0})',
        path,
        at,
        FORMAT_KEYS[example.format],
        FORMAT_KEYS.text,
      );
    if (typeof onText === 'function') onText(example.text);
    else onText.utf8(Buffer.from(example.text));
    onDocumentEnd();
  };
  const file = yield* textFileSteps(
    path,
    (text) => {
      const parts = (pending + text).split('\n');
      pending = parts.pop()!;
      for (const part of parts) line(part);
    },
    opts,
  );
  line(pending);
  lines.end();
  return { ...file, sha256: sha256Hex(`${JSONL_TEXTS}\0${file.sha256}`) };
}
