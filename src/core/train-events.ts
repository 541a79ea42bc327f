import { TrainPlan } from './train-options';

/** What a training run reports, in order: start, then steps/evals/checkpoints, then done. */
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
    }
  | { type: 'step'; step: number; epoch: number; loss: number; lr: number; grad_norm: number; tokens_per_s: number; elapsed_s: number }
  /** base_val_loss: fine-tuning, the loss on the base's own held-out text (the forgetting meter). */
  | { type: 'eval'; step: number; epoch: number; loss: number; val_loss: number; base_val_loss?: number; elapsed_s: number; sample?: string }
  /** Something the user should know that does not stop training (e.g. it fell back to one thread). */
  | { type: 'notice'; step: number; message: string }
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
