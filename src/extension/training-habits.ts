import * as vscode from 'vscode';
import { basename } from 'node:path';
import { Ctx } from './ctx';
import { TrainEvent } from '../core/train-events';
import { isInside } from '../core/safe-fs';
import { RunInfo, readRun } from '../core/runs';
import { bitsPerByte, takesFileFrom } from '../core/model-choice';
import type { FileServer } from './serving-model';

/** Whether a run's model takes its file, and the losses that decided it (bits per byte of the file). */
export interface FileVerdict {
  takes: boolean;
  bitsPerByte: number;
  incumbent?: FileServer;
}

/**
 * While a run trains, the active model is its best checkpoint so far, so completions can be tried
 * as soon as the first checkpoint exists — unless the user picks another model meanwhile, or the
 * run may not take its file: an experiment arm, or a checkpoint no better than the model serving
 * the file (`incumbent`, ctx.serving.fileServer before the run). The run's progress notification
 * says which checkpoint that is (`serving`), so the words go when the run does.
 */
export class FollowBestCheckpoint implements vscode.Disposable {
  private bestValLoss = Infinity;
  private setByRun?: string;
  private userChose = false;
  private runDir?: string;
  private run: Promise<RunInfo | undefined> = Promise.resolve(undefined);
  /** Checkpoints are judged one after the other, in the order they came. */
  private judged: Promise<void> = Promise.resolve();
  private readonly sub: vscode.Disposable;

  constructor(
    private readonly ctx: Ctx,
    private readonly incumbent?: FileServer,
  ) {
    this.sub = ctx.onDidChangeActiveModel((path) => {
      if (path !== this.setByRun) this.userChose = true;
    });
  }

  /** Whether this run's model with validation loss `valLoss` takes the file from the model serving it. */
  async verdict(valLoss: number): Promise<FileVerdict> {
    const run = await this.run;
    const mine = { model: '', valLoss, tokensPerByte: run?.tokensPerByte, experiment: run?.experiment };
    // A resumed run serving its file goes on serving it.
    const incumbent = this.incumbent?.runDir !== undefined && this.incumbent.runDir === this.runDir ? undefined : this.incumbent;
    return { takes: takesFileFrom(mine, incumbent), bitsPerByte: bitsPerByte(mine), incumbent };
  }

  /** Until the checkpoints so far are judged (and followed or not). */
  settled(): Promise<void> {
    return this.judged;
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
    if (e.type === 'start') {
      this.runDir = e.run_dir;
      this.run = readRun(e.run_dir).catch(() => undefined);
      return;
    }
    if (e.type !== 'checkpoint') return;
    const runDir = this.runDir;
    if (this.userChose) {
      // The worker prunes older checkpoints: a chosen checkpoint of this very run moves along.
      if (this.ctx.activeModel && runDir && isInside(this.ctx.activeModel, runDir)) this.set(e.path);
      return;
    }
    if (!(e.val_loss <= this.bestValLoss)) return;
    this.bestValLoss = e.val_loss;
    this.judged = this.judged.then(async () => {
      if ((await this.verdict(e.val_loss)).takes && !this.userChose) this.set(e.path);
    });
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
