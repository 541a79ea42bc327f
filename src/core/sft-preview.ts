import { IGNORED, SftRow } from './sft-examples';
import { Tokenizer } from './tokenizer';

/** A run of tokens of one kind: read only (masked), or predicted and trained. */
export interface PreviewPart {
  text: string;
  trained: boolean;
}

/**
 * An example as the model sees it, in runs of masked and trained tokens (decoded run by run, so the
 * bytes of a character split over tokens join up). The first token is read, never predicted.
 */
export function previewParts(row: SftRow, tokenizer: Tokenizer): PreviewPart[] {
  const parts: PreviewPart[] = [];
  let run: number[] = [];
  let trained = false;
  const flush = () => {
    if (run.length) parts.push({ text: tokenizer.decode(run), trained });
    run = [];
  };
  row.ids.forEach((id, i) => {
    const t = i > 0 && row.labels[i] !== IGNORED;
    if (t !== trained) flush();
    trained = t;
    run.push(id);
  });
  flush();
  return parts;
}

/** The preview as one text: masked runs in ⟦ ⟧ (or dimmed on a terminal), trained runs plain. */
export function previewText(parts: PreviewPart[], dim = false): string {
  return parts.map((p) => (p.trained ? p.text : dim ? `\x1b[2m${p.text}\x1b[22m` : `⟦${p.text}⟧`)).join('');
}
