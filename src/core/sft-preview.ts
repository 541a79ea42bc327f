import { IGNORED, SftRow } from './sft-examples';
import { Tokenizer } from './tokenizer';
import type { TrainEvent } from './train-events';

/** A run of tokens of one kind: read only (masked), predicted and trained, or a separator between documents (trained). */
export interface PreviewPart {
  text: string;
  trained: boolean;
  separator?: boolean;
}

/**
 * An example as the model sees it, in runs of masked and trained tokens (decoded run by run, so the
 * bytes of a character split over tokens join up). The first token is read, never predicted. Each
 * `separatorId` (the end-of-text between documents) is a run of its own.
 */
export function previewParts(row: SftRow, tokenizer: Tokenizer, separatorId?: number): PreviewPart[] {
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
    if (id === separatorId) {
      flush();
      parts.push({ text: tokenizer.decode([id]), trained, separator: true });
    } else run.push(id);
  });
  flush();
  return parts;
}

/** The preview as one text: masked runs in ⟦ ⟧ (or dimmed on a terminal), trained runs plain. */
export function previewText(parts: PreviewPart[], dim = false): string {
  return parts.map((p) => (p.trained ? p.text : dim ? `\x1b[2m${p.text}\x1b[22m` : `⟦${p.text}⟧`)).join('');
}

/** The data event's counts in one line (the CLI and the log; the editor says them in its language). */
export function dataSummary(e: Extract<TrainEvent, { type: 'data' }>): string {
  if (e.format === 'documents')
    return (
      `data (documents): ${e.documents} documents, ${e.train_tokens} tokens trained and ${e.held_out_tokens} held out ` +
      "(each document's last part), every part ended by the end-of-text token"
    );
  const c = e.counts;
  return (
    `data (${e.format}): ${c.examples} examples (${e.held_out} held out), ${c.trained} trained tokens, ${c.masked} masked, ` +
    `${c.cut} cut to the context (${c.cutTokens} tokens)${c.dropped ? `, ${c.dropped} left out with nothing to train` : ''}`
  );
}

/** What the preview shows, as its heading says it. */
export function previewHeading(e: Extract<TrainEvent, { type: 'data' }>, dim: boolean): string {
  return e.format === 'documents'
    ? `a training window (from token ${e.window_start}) as the model sees it, every token trained, the end-of-text between documents as itself:`
    : `first example as the model sees it (masked ${dim ? 'dimmed' : 'in ⟦ ⟧'}, trained plain):`;
}
