import { readFileSync } from 'node:fs';
import { startEngine, tf } from '../engine/backend';
import { nativeAddon } from '../engine/native';
import { heap } from '../engine/kernels/kernel-module';
import { ModelConfig, validateModelConfig } from '../../core/model-config';
export { MODEL_SHAPES } from '../../core/model-shapes';
import { parameterCount, weightTable } from '../../core/weight-table';
import { NamedTensors } from '../../core/tensor';
import { Rng } from '../../core/rng';
import { Gpt, newCache, disposeCache } from '../model/gpt';

/** float32 (as trained) or BF16 (a BF16 folder opened for completion: its matrices held as BF16). */
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
  /** Resident memory after generating, and the process's peak (Linux; 0 elsewhere). */
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
 * Random weights of the table's spread (uniform, so half a billion values take seconds) rounded to
 * BF16 (to nearest, ties to even), as a BF16 folder's values are, in host memory.
 */
function bf16Weights(config: ModelConfig, seed: number): NamedTensors {
  const rng = new Rng(seed);
  const weights: NamedTensors = new Map();
  for (const [name, { shape, init }] of weightTable(config)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if ('fill' in init) data.fill(init.fill);
    else {
      const half = init.normal * Math.sqrt(3);
      for (let i = 0; i < data.length; i++) data[i] = (2 * rng.next() - 1) * half;
      const bits = new Uint32Array(data.buffer);
      for (let i = 0; i < bits.length; i++) bits[i] = (bits[i] + 0x7fff + ((bits[i] >>> 16) & 1)) & 0xffff0000;
    }
    weights.set(name, { shape, data });
  }
  return weights;
}

/** A frozen model of such weights, held as BF16; the host copy is garbage when this returns. */
function bf16Model(config: ModelConfig): Gpt {
  return Gpt.frozen(config, bf16Weights(config, 1));
}

/** Bytes of the weights as held: BF16 matrices 2 a value. */
function heldBytes(config: ModelConfig, dtype: DecodeDtype): number {
  let bytes = 0;
  for (const [, { shape }] of weightTable(config))
    bytes += shape.reduce((a, b) => a * b, 1) * (dtype === 'bf16' && shape.length === 2 ? 2 : 4);
  return bytes;
}

/**
 * Greedy completion from a model of random weights, as a completion request runs it: a prompt of
 * `promptTokens` in one call, then `newTokens` one at a time, each timed with the read of its logits.
 */
export async function benchDecode(
  config: ModelConfig,
  promptTokens: number,
  newTokens: number,
  threads: number,
  dtype: DecodeDtype = 'fp32',
): Promise<DecodeBenchResult> {
  validateModelConfig(config);
  const engine = await startEngine('native');
  nativeAddon()?.setThreads(threads);
  const model = dtype === 'bf16' ? bf16Model(config) : Gpt.initialise(config, 1);
  // The host copy the BF16 weights were made from is garbage now: collected (node --expose-gc) before memory is measured.
  (globalThis as { gc?: () => void }).gc?.();
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
  disposeCache(cache);
  model.dispose();
  const params = parameterCount(config);
  return {
    backend: engine.backend,
    threads: nativeAddon()?.info().threads ?? engine.threads,
    params,
    dtype,
    weightBytes: heldBytes(config, dtype),
    promptTokens,
    prefillMs,
    msPerToken,
    cpuMsPerToken,
    rssBytes,
    peakRssBytes: peakRss(),
    heapBytes,
    jsHeapBytes,
  };
}
