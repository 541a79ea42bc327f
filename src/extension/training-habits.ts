import * as vscode from 'vscode';
import { basename } from 'node:path';
import { Ctx, modelName } from './ctx';
import { TrainEvent } from '../core/train-events';
import { isInside } from '../core/safe-fs';

/**
 * While a run trains, the active model is its best checkpoint so far, so completions can be tried
 * as soon as the first checkpoint exists — unless the user picks another model meanwhile.
 */
export class FollowBestCheckpoint implements vscode.Disposable {
  private bestValLoss = Infinity;
  private setByRun?: string;
  private userChose = false;
  private told = false;
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
    if (!this.told) {
      this.told = true;
      void vscode.window.showInformationMessage(
        vscode.l10n.t(
          'You can try the model while it trains: completions now come from {0}, the best checkpoint so far (validation loss {1}), and follow each better one.',
          modelName(e.path),
          e.val_loss.toFixed(3),
        ),
      );
    }
  }

  private set(path: string): void {
    this.setByRun = path;
    void this.ctx.setActiveModel(path);
  }

  dispose(): void {
    this.sub.dispose();
  }
}

/** The overfitting watch's notice in the user's language, with what to try and a way to stop now. */
export function showOverfitNotice(ctx: Ctx, e: TrainEvent, events: TrainEvent[], corpus: vscode.Uri): void {
  if (e.type !== 'notice' || e.code !== 'overfitting' || e.best_step === undefined || e.best_val_loss === undefined) return;
  const lastEval = [...events].reverse().find((x) => x.type === 'eval');
  const now = lastEval?.type === 'eval' ? lastEval.val_loss : NaN;
  const stop = vscode.l10n.t('Stop Training');
  void vscode.window
    .showWarningMessage(
      vscode.l10n.t(
        'Overfitting: the validation loss has risen for several evaluations (best {0} at step {1}, now {2}) while the training loss keeps falling — the model is memorising {3} instead of learning from it. The best checkpoint is kept and becomes the active model at the end. To do better: train on more text, add dropout, choose a smaller model, or train fewer steps (about {1}).',
        e.best_val_loss.toFixed(3),
        e.best_step,
        now.toFixed(3),
        basename(corpus.fsPath),
      ),
      stop,
    )
    .then((answer) => {
      if (answer === stop) ctx.training?.cancel();
    });
}
