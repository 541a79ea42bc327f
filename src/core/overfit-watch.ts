/** One evaluation: the held-out loss, and the mean training loss of the steps since the previous one. */
export interface EvalPoint {
  step: number;
  trainLoss: number;
  valLoss: number;
}

/** Evaluations in a row with a higher validation loss than the one before, before the watch speaks. */
export const OVERFIT_RISES = 3;

export interface OverfitWarning {
  best: EvalPoint;
  now: EvalPoint;
  /** Evaluations in a row the validation loss rose. */
  rises: number;
}

/**
 * Karpathy's habit: when the validation loss rises for several evaluations while the training loss
 * falls, the model is memorising its training text. Speaks once per such stretch.
 */
export class OverfitWatch {
  private readonly points: EvalPoint[] = [];
  private rises = 0;
  private spoken = false;

  /** `margin`: how far above its best the validation loss must be (relative), so noise on a small held-out text does not count. */
  constructor(
    private readonly needed = OVERFIT_RISES,
    private readonly margin = 0.01,
  ) {}

  add(p: EvalPoint): OverfitWarning | undefined {
    const prev = this.points[this.points.length - 1];
    this.points.push(p);
    this.rises = prev && p.valLoss > prev.valLoss ? this.rises + 1 : 0;
    if (this.rises === 0) this.spoken = false;
    if (this.spoken || this.rises < this.needed) return undefined;
    const start = this.points[this.points.length - 1 - this.rises];
    const best = this.points.reduce((a, b) => (b.valLoss < a.valLoss ? b : a));
    if (!(p.trainLoss < start.trainLoss) || p.valLoss < best.valLoss * (1 + this.margin)) return undefined;
    this.spoken = true;
    return { best, now: p, rises: this.rises };
  }
}

/** The watch's notice as the CLI prints it (the extension words it in the user's language). */
export function overfitMessage(w: OverfitWarning): string {
  return (
    `validation loss has risen for ${w.rises} evaluations in a row (best ${w.best.valLoss.toFixed(3)} at step ${w.best.step}, now ${w.now.valLoss.toFixed(3)}) ` +
    `while the training loss keeps falling: the model is memorising its training text (overfitting). ` +
    `The checkpoint with the lowest validation loss is kept and used at the end. To do better: train on more text, ` +
    `add dropout (--dropout 0.1), use a smaller model, or stop near step ${w.best.step} (--max-steps ${w.best.step})`
  );
}
