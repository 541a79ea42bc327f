import * as vscode from 'vscode';
import { basename } from 'node:path';
import { Ctx } from './ctx';
import { TrainEvent } from '../core/train-events';
import { isInside } from '../core/safe-fs';

/**
 * While a run trains, the active model is its best checkpoint so far, so completions can be tried
 * as soon as the first checkpoint exists — unless the user picks another model meanwhile. The run's
 * progress notification says which checkpoint that is (`serving`), so the words go when the run does.
 */
export class FollowBestCheckpoint implements vscode.Disposable {
  private bestValLoss = Infinity;
  private setByRun?: string;
  private userChose = false;
  private readonly sub: vscode.Disposable;

  constructor(private readonly ctx: Ctx) {
    this.sub = ctx.onDidChangeActiveModel((path) => {
      if (path !== this.setByRun) this.userChose = true;
    });
  }

  /** True when the user chose a model during the run: the run's result must not replace it. */
  get userChoseAnother(): boolean {
    return this.userChose;
  }

  /** The checkpoint of this run completions come from now, if the run set it. */
  get serving(): string | undefined {
    return this.userChose ? undefined : this.setByRun;
  }

  onEvent(e: TrainEvent): void {
    if (e.type !== 'checkpoint') return;
    const runDir = this.ctx.training?.runDir;
    if (this.userChose) {
      // The worker prunes older checkpoints: a chosen checkpoint of this very run moves along.
      if (this.ctx.activeModel && runDir && isInside(this.ctx.activeModel, runDir)) this.set(e.path);
      return;
    }
    if (!(e.val_loss <= this.bestValLoss)) return;
    this.bestValLoss = e.val_loss;
    this.set(e.path);
  }

  private set(path: string): void {
    this.setByRun = path;
    void this.ctx.setActiveModel(path);
  }

  dispose(): void {
    this.sub.dispose();
  }
}

type OverfitNotice = Extract<TrainEvent, { type: 'notice' }> & { best_step: number; best_val_loss: number };

export function isOverfitNotice(e: TrainEvent): e is OverfitNotice {
  return e.type === 'notice' && e.code === 'overfitting' && e.best_step !== undefined && e.best_val_loss !== undefined;
}

/** The overfitting watch's words in the run's progress notification, whose Cancel stops the run. */
export function overfitLine(notice: OverfitNotice, events: TrainEvent[]): string {
  const lastEval = [...events].reverse().find((x) => x.type === 'eval');
  const now = lastEval?.type === 'eval' ? lastEval.val_loss : NaN;
  return vscode.l10n.t(
    '⚠ Overfitting since step {0} (validation loss {1} then, {2} now): Cancel stops the run and keeps the best checkpoint',
    notice.best_step,
    notice.best_val_loss.toFixed(3),
    now.toFixed(3),
  );
}

/** What to try after a run that overfit, for its closing message. */
export function overfitAdvice(notice: OverfitNotice, corpus: vscode.Uri): string {
  return vscode.l10n.t(
    'It overfit after step {0}: the validation loss rose while the training loss kept falling — the model memorised {1} instead of learning from it. To do better: train on more text, add dropout, choose a smaller model, or train fewer steps (about {0}).',
    notice.best_step,
    basename(corpus.fsPath),
  );
}
