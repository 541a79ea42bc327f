import * as vscode from 'vscode';
import { dirname } from 'node:path';
import { Ctx } from './ctx';
import { startTraining } from './commands/train';
import type { TrainRequest } from '../worker/protocol';

export interface QueuedRun {
  target: vscode.Uri;
  request: TrainRequest;
}

export interface QueueOutcome {
  /** The run folders trained, in order (a cancelled run's folder included: it has its checkpoint). */
  runDirs: string[];
  /** Every run finished; false when the user cancelled or a run failed. */
  completed: boolean;
}

/**
 * Trains runs one after another in the training worker, each through the train command's path
 * (progress "Run 2 of 3: …", loss chart, status bar). Cancelling a run (its notification or Cancel
 * Training) stops the queue.
 */
export async function trainQueue(ctx: Ctx, runs: QueuedRun[]): Promise<QueueOutcome | undefined> {
  if (ctx.training) {
    vscode.window.showWarningMessage(vscode.l10n.t('A training run is already in progress. Cancel it first, or wait for it to finish.'));
    return undefined;
  }
  let cancelled = false;
  const runDirs: string[] = [];
  for (let i = 0; i < runs.length && !cancelled; i++) {
    const result = await startTraining(ctx, runs[i].target, runs[i].request, undefined, { index: i + 1, total: runs.length });
    if (!result) return { runDirs, completed: false };
    runDirs.push(dirname(dirname(result.checkpoint)));
    if (result.reason === 'cancelled') cancelled = true;
  }
  if (cancelled)
    void vscode.window.showInformationMessage(
      vscode.l10n.t('Stopped after {0} of {1} runs; the finished runs are kept.', runDirs.length, runs.length),
    );
  return { runDirs, completed: !cancelled };
}
