import { freemem } from 'node:os';
import { UserError } from './errors';
import { formatBytes } from './format-bytes';
import { estimate } from './estimate';
import type { TrainPlan } from './train-options';
import { trainingWindow } from './train-plan';

/**
 * The wasm backend's heap cannot grow past 4 GiB (wasm32); keep room for its own buffers. The
 * native engine computes on that heap too (worker/engine/native.ts), so it has the same limit.
 * The estimate over-counts activations (a SmolLM2-135M-shaped full step, batch 4 × 128: estimated
 * 3.55 GiB, measured 2.82 GiB RSS) while a float32 Qwen2.5-0.5B LoRA base (estimated 3.80 GiB)
 * really does not fit: the budget sits between them.
 */
const WASM_HEAP_BYTES = 3.75 * 1024 ** 3;
const ON_WASM_HEAP: ReadonlySet<string> = new Set(['wasm', 'native']);

/** What a refused run can make smaller: a new model's size, or a fine-tune's batch and window. */
export type Smaller = '--batch, --context, --width, --layers' | '--batch, --context';

/** Bytes a training run may use on this backend and machine. */
export function trainingMemoryBudget(backend: string, free = freemem()): number {
  const machine = 0.8 * free;
  return ON_WASM_HEAP.has(backend) ? Math.min(WASM_HEAP_BYTES, machine) : machine;
}

/** Refuses, before any work starts, a configuration whose estimated training memory does not fit. */
export function checkTrainingFits(
  neededBytes: number,
  backend: string,
  free = freemem(),
  smaller: Smaller = '--batch, --context, --width, --layers',
): void {
  const budget = trainingMemoryBudget(backend, free);
  if (neededBytes > budget) {
    const [needed, available] = [formatBytes(neededBytes), formatBytes(budget)];
    throw ON_WASM_HEAP.has(backend) && budget === WASM_HEAP_BYTES
      ? new UserError(
          'this configuration needs about {0} to train (weights, gradients, AdamW moments and activations), more than the {1} the {2} engine can use (the wasm heap it computes on stops at 4 GiB): lower one of {3}',
          needed,
          available,
          backend,
          smaller,
        )
      : new UserError(
          'this configuration needs about {0} to train (weights, gradients, AdamW moments and activations), more than the {1} available: lower one of {2}',
          needed,
          available,
          smaller,
        );
  }
}

/** A LoRA run's adapters, and the bytes of each frozen base weight (2 when held as BF16). */
export interface LoraFootprint {
  adapterParams: number;
  frozenBytes: number;
}

/**
 * checkTrainingFits for a run's plan: a new run's, or a resumed one's (whose trainer_state.json or
 * run.json may have been edited), at the window it trains on; a fine-tune's (`smaller` its batch
 * and window), with `lora` when only adapters train.
 */
export function checkPlanFits(plan: TrainPlan, backend: string, smaller?: Smaller, lora?: LoraFootprint, free = freemem()): void {
  const model = { ...plan.model, context: trainingWindow(plan.model, plan.options) };
  const e = estimate(model, plan.options.batch, plan.stepsPerEpoch, undefined, lora?.adapterParams, lora?.frozenBytes);
  checkTrainingFits(e.trainingBytes, backend, free, smaller);
}
