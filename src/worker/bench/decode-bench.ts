import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, tf } from '../engine/backend';
import { nativeAddon } from '../engine/native';
import { heap } from '../engine/kernels/kernel-module';
import { heldAsBf16 } from '../engine/kernels/bf16-matrix';
import { ModelConfig, validateModelConfig } from '../../core/model-config';
export { MODEL_SHAPES } from '../../core/model-shapes';
import { parameterCount, weightTable } from '../../core/weight-table';
import { NamedTensors, elementCount } from '../../core/tensor';
import { encodeSafetensors } from '../../core/safetensors';
import { HF_WEIGHTS_FILE } from '../../core/hf-weights';
import { readLlamaWeights } from '../../core/llama-folder';
import { Rng } from '../../core/rng';
import { newCache, disposeCache } from '../model/gpt';
import { frozenModel } from '../jobs/load-model';

/** float32 (as trained) or BF16 (as most models are published): the dtype of the folder opened. */
export type DecodeDtype = 'fp32' | 'bf16';

export interface DecodeBenchResult {
  backend: string;
  threads: number;
  params: number;
  dtype: DecodeDtype;
  /** Bytes of the weights as held (each read once per generated token): matrices 2 bytes a value in BF16, the rest 4. */
  weightBytes: number;
  promptTokens: number;
  prefillMs: number;
  /** Each generated token's next() call and the read of its logits. */
  msPerToken: number[];
  /** CPU time of the whole process (every thread) per generated token: far below threads × ms per token when other work holds the cores. */
  cpuMsPerToken: number;
  /** Resident memory once the engine has started (Node and the wasm backend, before any weight). */
  startRssBytes: number;
  /** Resident memory after generating, and the process's peak (Linux; 0 elsewhere): opening the folder included. */
  rssBytes: number;
  peakRssBytes: number;
  /** The wasm backend's heap, where the weights are (it grows and never shrinks). */
  heapBytes: number;
  /** V8's JavaScript heap in use. */
  jsHeapBytes: number;
}

/** The process's peak resident set (VmHWM), in bytes; 0 where /proc is not there. */
function peakRss(): number {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/**
 * A model folder's weights file (model.safetensors, every tensor F32 or BF16 as transformers saves
 * them) of random weights of the table's spread (uniform, so half a billion values take seconds).
 */
export function writeRandomWeights(config: ModelConfig, dtype: DecodeDtype, dir: string): void {
  const rng = new Rng(1);
  const weights: NamedTensors = new Map();
  for (const [name, { shape, init }] of weightTable(config)) {
    const data = new Float32Array(elementCount(shape));
    if ('fill' in init) data.fill(init.fill);
    else {
      const half = init.normal * Math.sqrt(3);
      for (let i = 0; i < data.length; i++) data[i] = (2 * rng.next() - 1) * half;
    }
    weights.set(name, { shape, data });
  }
  const half = new Map(dtype === 'bf16' ? [...weights.keys()].map((name) => [name, 'BF16' as const]) : []);
  writeFileSync(join(dir, HF_WEIGHTS_FILE), encodeSafetensors(weights, { format: 'pt' }, new Map(), half));
}

/**
 * Greedy completion from the weights in `dir` (writeRandomWeights), opened as a model folder's are
 * (jobs/load-model.ts frozenModel: read straight into the engine, BF16 matrices held as BF16), as a
 * completion request runs it: a prompt of `promptTokens` in one call, then `newTokens` one at a time,
 * each timed with the read of its logits.
 */
export async function benchDecode(
  config: ModelConfig,
  dir: string,
  promptTokens: number,
  newTokens: number,
  threads: number,
): Promise<DecodeBenchResult> {
  validateModelConfig(config);
  const engine = await startEngine('native');
  nativeAddon()?.setThreads(threads);
  const startRssBytes = process.memoryUsage().rss;
  const { model } = frozenModel((destination) => ({ config, weights: readLlamaWeights(dir, config, destination && { destination }) }));
  const cache = newCache();
  const prompt = Array.from({ length: promptTokens }, (_, i) => (i * 7919 + 13) % config.vocabSize);
  const argmax = (logits: tf.Tensor1D) => {
    const values = logits.dataSync();
    logits.dispose();
    let best = 0;
    for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
    return best;
  };
  let t0 = performance.now();
  let next = argmax(model.next(prompt, cache));
  const prefillMs = performance.now() - t0;
  const msPerToken: number[] = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < newTokens; i++) {
    t0 = performance.now();
    next = argmax(model.next([next], cache));
    msPerToken.push(performance.now() - t0);
  }
  const { user, system } = process.cpuUsage(cpu);
  const cpuMsPerToken = (user + system) / 1000 / newTokens;
  const { rss: rssBytes, heapUsed: jsHeapBytes } = process.memoryUsage();
  const heapBytes = heap().byteLength;
  const held = [...model.frozen.values()];
  const result = {
    backend: engine.backend,
    threads: nativeAddon()?.info().threads ?? engine.threads,
    params: parameterCount(config),
    dtype: held.some(heldAsBf16) ? ('bf16' as const) : ('fp32' as const),
    // 4 bytes an element: a float32, or a pair of BF16 values (kernels/bf16-matrix.ts).
    weightBytes: held.reduce((bytes, w) => bytes + 4 * w.size, 0),
    promptTokens,
    prefillMs,
    msPerToken,
    cpuMsPerToken,
    startRssBytes,
    rssBytes,
    peakRssBytes: peakRss(),
    heapBytes,
    jsHeapBytes,
  };
  disposeCache(cache);
  model.dispose();
  return result;
}
