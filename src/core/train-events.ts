import type { SftCounts } from './sft-examples';
import type { PreviewPart } from './sft-preview';
import type { SftFormat } from './sft-data';
import { TrainPlan } from './train-options';
import { Baselines } from './baselines';
import type { PrepareProgress } from './prepared/prepare-corpus';

/** A training row as the model sees it: its ids, whether each is a trained target, and its text in runs. */
export interface FirstRow {
  ids: number[];
  trained: boolean[];
  parts: PreviewPart[];
}

/** What a training run reports, in order: preparation's progress, start, then steps/evals/checkpoints, then done. */
export type TrainEvent =
  | {
      type: 'start';
      run_dir: string;
      /** Parameters of the model (with LoRA: the base's and the adapters'). */
      params: number;
      /** Those the optimizer trains: all of them, or with LoRA the adapters'. */
      trainable_params: number;
      backend: string;
      threads: number;
      /** The BLAS library of the native engine. */
      blas?: string;
      plan: TrainPlan;
      step: number;
      epoch: number;
      resumed_from?: string;
      /** What the validation loss means and has to beat (a new run; a resumed one has them in metrics.jsonl). */
      baselines?: Baselines;
    }
  | { type: 'step'; step: number; epoch: number; loss: number; lr: number; grad_norm: number; tokens_per_s: number; elapsed_s: number }
  | {
      type: 'eval';
      step: number;
      epoch: number;
      loss: number;
      val_loss: number;
      /** Fine-tuning: the loss on the base's own held-out text (the forgetting meter). */
      base_val_loss?: number;
      /** val_loss over the held-out text's code points and UTF-8 bytes (a Hangul syllable is 1 and 3). */
      val_bits_per_char?: number;
      val_bits_per_byte?: number;
      elapsed_s: number;
      sample?: string;
    }
  /**
   * Fine-tuning on examples, before training starts: the first training example as the model sees
   * it and the counts (held_out: examples).
   */
  | { type: 'data'; format: SftFormat; counts: SftCounts; held_out: number; first: FirstRow }
  /**
   * Fine-tuning on a folder of documents, before training starts: a training window as the model
   * sees it (from token window_start of the training stream, across the first document's end) and
   * the counts; every token is trained.
   */
  | {
      type: 'data';
      format: 'documents';
      documents: number;
      train_tokens: number;
      held_out_tokens: number;
      window_start: number;
      first: FirstRow;
    }
  /** Before training: the corpus being read, encoded into its prepared ids, or those checked (prepared/prepare-corpus.ts). */
  | ({ type: 'prepare' } & PrepareProgress)
  /** Something the user should know that does not stop training (e.g. it fell back to one thread); `code` names the kind a front end explains itself. */
  | { type: 'notice'; step: number; message: string; code?: 'overfitting'; best_step?: number; best_val_loss?: number }
  | { type: 'checkpoint'; step: number; epoch: number; path: string; val_loss: number; reason: 'epoch' | 'final' | 'cancel' }
  | {
      type: 'done';
      step: number;
      epoch: number;
      loss: number;
      val_loss: number;
      elapsed_s: number;
      checkpoint: string;
      reason: 'completed' | 'cancelled';
    };
