import * as vscode from 'vscode';
import type { TrainEvent } from '../../core/train-events';
import type { DataPreview } from './protocol';

type DataEvent = Extract<TrainEvent, { type: 'data' }>;

/** What the Loss chart shows of a fine-tuning run's data before training: the first example and the counts. */
export function dataPreview(e: DataEvent): DataPreview {
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
  return { parts: e.first.parts, summary };
}

/** The data event of the run being trained, if it has one. */
export function trainingDataEvent(events: readonly TrainEvent[] | undefined): DataEvent | undefined {
  return events?.find((e): e is DataEvent => e.type === 'data');
}
