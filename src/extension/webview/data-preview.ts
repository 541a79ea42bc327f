import * as vscode from 'vscode';
import type { TrainEvent } from '../../core/train-events';
import type { DataPreview } from './protocol';

type DataEvent = Extract<TrainEvent, { type: 'data' }>;

/** What the Loss chart shows of a fine-tuning run's data before training: the first example (a window of documents) and the counts. */
export function dataPreview(e: DataEvent): DataPreview {
  if (e.format === 'documents')
    return {
      parts: e.first.parts,
      title: vscode.l10n.t('A training window (from token {0}), as the model sees it', e.window_start.toLocaleString()),
      summary: [
        vscode.l10n.t('{0} documents', e.documents.toLocaleString()),
        vscode.l10n.t('{0} tokens trained', e.train_tokens.toLocaleString()),
        vscode.l10n.t("{0} held out (each document's last part)", e.held_out_tokens.toLocaleString()),
      ].join(' · '),
      legend: vscode.l10n.t('Every token is trained. Boxed: the end-of-text token between documents.'),
    };
  const c = e.counts;
  const summary = [
    vscode.l10n.t('{0} examples, {1} held out', c.examples.toLocaleString(), e.held_out.toLocaleString()),
    vscode.l10n.t('{0} tokens trained', c.trained.toLocaleString()),
    vscode.l10n.t('{0} masked', c.masked.toLocaleString()),
    c.cut
      ? vscode.l10n.t('{0} cut to the context ({1} tokens)', c.cut.toLocaleString(), c.cutTokens.toLocaleString())
      : vscode.l10n.t('none cut to the context'),
    c.dropped ? vscode.l10n.t('{0} left out (nothing in them would be trained)', c.dropped.toLocaleString()) : '',
  ]
    .filter(Boolean)
    .join(' · ');
  return {
    parts: e.first.parts,
    title: vscode.l10n.t('First training example, as the model sees it'),
    summary,
    legend: vscode.l10n.t('Highlighted: trained (the answers and their end of turn). Dimmed: read, not trained.'),
  };
}

/** The data event of the run being trained, if it has one. */
export function trainingDataEvent(events: readonly TrainEvent[] | undefined): DataEvent | undefined {
  return events?.find((e): e is DataEvent => e.type === 'data');
}
