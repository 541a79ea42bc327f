import * as vscode from 'vscode';
import { TrainEvent } from '../../core/train-events';
import { formatSeconds } from '../seconds-text';

type PrepareEvent = Extract<TrainEvent, { type: 'prepare' }>;

/** The corpus read, encoded into its prepared ids, or those checked: how far, and the time left. */
export function prepareLine(e: PrepareEvent): string {
  const percent = e.total > 0 ? Math.floor((100 * e.done) / e.total) : 100;
  const eta = e.eta_s === undefined ? undefined : formatSeconds(e.eta_s);
  if (e.phase === 'read')
    return eta === undefined
      ? vscode.l10n.t('reading the corpus: {0}%', percent)
      : vscode.l10n.t('reading the corpus: {0}% · ETA {1}', percent, eta);
  if (e.phase === 'encode')
    return eta === undefined
      ? vscode.l10n.t('preparing its token ids: {0}%', percent)
      : vscode.l10n.t('preparing its token ids: {0}% · ETA {1}', percent, eta);
  return eta === undefined
    ? vscode.l10n.t('checking its prepared token ids: {0}%', percent)
    : vscode.l10n.t('checking its prepared token ids: {0}% · ETA {1}', percent, eta);
}

/**
 * A cancellable progress notification for a corpus a worker job prepares before its real work (the
 * preset pick's estimate): shown once a preparation has gone on for a second (a small corpus is
 * prepared in milliseconds, and a notification flashing up over the open pick takes it away), with
 * the lines a training run shows, until close(). Its Cancel calls `onCancel`.
 */
export class PreparationNotification {
  private report?: (message: string) => void;
  private pending?: string;
  private closeNow?: () => void;
  private closed = false;
  private timer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly title: string,
    private readonly onCancel: () => void,
    private readonly delayMs = 1000,
  ) {}

  onEvent(e: TrainEvent): void {
    if (e.type !== 'prepare' || this.closed) return;
    const line = prepareLine(e);
    if (this.report) return this.report(line);
    this.pending = line;
    this.timer ??= setTimeout(() => this.open(), this.delayMs);
  }

  private open(): void {
    if (this.closed) return;
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: this.title, cancellable: true },
      (progress, token) => {
        token.onCancellationRequested(() => this.onCancel());
        this.report = (message) => progress.report({ message });
        this.report(this.pending!);
        return new Promise<void>((resolve) => {
          this.closeNow = resolve;
          if (this.closed) resolve();
        });
      },
    );
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.closeNow?.();
  }
}
