import { readFileSync } from 'node:fs';
import { startEngine, tf } from '../engine/backend';
import { nativeAddon } from '../engine/native';
import { heap } from '../engine/kernels/kernel-module';
import { ModelConfig, validateModelConfig } from '../../core/model-config';
export { MODEL_SHAPES } from '../../core/model-shapes';
import { parameterCount } from '../../core/weight-table';
import { Gpt, newCache, disposeCache } from '../model/gpt';

export interface DecodeBenchResult {
  backend: string;
  threads: number;
  params: number;
  /** fp32 bytes of the weights (each read once per generated token). */
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
 * Greedy completion from a model of random weights, as a completion request runs it: a prompt of
 * `promptTokens` in one call, then `newTokens` one at a time, each timed with the read of its logits.
 */
export async function benchDecode(
  config: ModelConfig,
  promptTokens: number,
  newTokens: number,
  threads: number,
): Promise<DecodeBenchResult> {
  validateModelConfig(config);
  const engine = await startEngine('native');
  nativeAddon()?.setThreads(threads);
  const model = Gpt.initialise(config, 1);
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
    weightBytes: params * 4,
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
