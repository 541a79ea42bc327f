import { freemem } from 'node:os';
import { UserError } from './errors';
import { formatBytes } from './format-bytes';
import { estimate } from './estimate';
import type { TrainPlan } from './train-options';
import { trainingWindow } from './train-plan';

/** The wasm backend's heap cannot grow past 4 GiB (wasm32); keep room for its own buffers. */
const WASM_HEAP_BYTES = 3.5 * 1024 ** 3;

/** Bytes a training run may use on this backend and machine. */
export function trainingMemoryBudget(backend: string, free = freemem()): number {
  const machine = 0.8 * free;
  return backend === 'wasm' ? Math.min(WASM_HEAP_BYTES, machine) : machine;
}

/** Refuses, before any work starts, a configuration whose estimated training memory does not fit. */
export function checkTrainingFits(neededBytes: number, backend: string, free = freemem()): void {
  const budget = trainingMemoryBudget(backend, free);
  if (neededBytes > budget) {
    const [needed, available] = [formatBytes(neededBytes), formatBytes(budget)];
    throw backend === 'wasm'
      ? new UserError(
          'this configuration needs about {0} to train (weights, gradients, AdamW moments and activations), more than the {1} available to the wasm backend: lower --batch, --context, --width or --layers',
          needed,
          available,
        )
      : new UserError(
          'this configuration needs about {0} to train (weights, gradients, AdamW moments and activations), more than the {1} available: lower --batch, --context, --width or --layers',
          needed,
          available,
        );
  }
}

/**
 * checkTrainingFits for a run's plan: a new run's, or a resumed one's (whose trainer_state.json or
 * run.json may have been edited), at the window it trains on.
 */
export function checkPlanFits(plan: TrainPlan, backend: string, free = freemem()): void {
  const model = { ...plan.model, context: trainingWindow(plan.model, plan.options) };
  checkTrainingFits(estimate(model, plan.options.batch, plan.stepsPerEpoch).trainingBytes, backend, free);
}
