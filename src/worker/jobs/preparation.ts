import { PreparationCancelled, PrepareOptions } from '../../core/prepared/prepare-corpus';
import { TrainEvent } from '../../core/train-events';
import { TrainResult } from '../train/trainer';

/** Preparation's progress and notices as training events; `shouldStop` cancels it. */
export function preparation(emit: (e: TrainEvent) => void, shouldStop: () => boolean): PrepareOptions {
  return {
    shouldStop,
    onProgress: (p) => emit({ type: 'prepare', ...p }),
    onNotice: (message) => emit({ type: 'notice', step: 0, message }),
  };
}

/** Runs a job whose data is prepared first: a cancel while preparing ends it as cancelled, nothing trained. */
export async function cancellableWhilePreparing(
  path: string,
  emit: (e: TrainEvent) => void,
  job: () => Promise<TrainResult>,
): Promise<TrainResult> {
  try {
    return await job();
  } catch (e) {
    if (!(e instanceof PreparationCancelled)) throw e;
    emit({ type: 'notice', step: 0, message: `preparing ${path} was cancelled; nothing was trained` });
    return { checkpoint: '', step: 0, valLoss: NaN, reason: 'cancelled' };
  }
}
