import bytes from 'corpus-lab-kernels.wasm';
import { tf } from '../engine';

// The WebAssembly global of Node, typed for what is used here (lib ES2022 does not declare it).
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
};

interface WasmMemory {
  buffer: ArrayBuffer;
  grow(pages: number): number;
}

export interface KernelExports {
  memory: WasmMemory;
  attentionForward(qkv: number, out: number, probs: number, b: number, t: number, h: number, d: number, scratch: number): void;
  attentionBackward(qkv: number, probs: number, dOut: number, dQkv: number, b: number, t: number, h: number, d: number, scratch: number): void;
  geluForward(x: number, y: number, n: number): void;
  geluBackward(x: number, dy: number, dx: number, n: number): void;
  layerNormForward(x: number, w: number, b: number, y: number, mean: number, rstd: number, rows: number, cols: number, eps: number): void;
  layerNormBackward(x: number, w: number, mean: number, rstd: number, dy: number, dx: number, dw: number, db: number, rows: number, cols: number): void;
  adamwUpdate(p: number, g: number, m: number, v: number, n: number, lr: number, beta1: number, oneMinusBeta1: number, beta2: number, oneMinusBeta2: number, c1: number, c2: number, eps: number, keep: number, gradScale: number): void;
}

// The module's own static data lives in its first page; buffers start after it.
const BASE = 65536;
let exports: KernelExports | undefined;

/** The kernels module, instantiated on first use (synchronously: it is a few KB). */
export function kernelModule(): KernelExports {
  exports ??= new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as KernelExports;
  return exports;
}

/** Whether the kernels can read tensors in place: they work on the wasm backend's heap. */
export function kernelsAvailable(): boolean {
  return tf.getBackend() === 'wasm';
}

/**
 * Runs one kernel call: copies `inputs` into the module's memory, lays out `outputs` (shapes)
 * and `scratch` floats after them, calls `run` with the byte offsets (inputs, outputs, scratch)
 * and returns the outputs as new tensors. Buffers live only for the call.
 */
export function callKernel(inputs: tf.Tensor[], outputs: number[][], scratch: number, run: (k: KernelExports, at: number[]) => void): tf.Tensor[] {
  const at = stage(inputs, [...outputs.map((shape) => shape.reduce((a, b) => a * b, 1)), scratch]);
  run(kernelModule(), at);
  return outputs.map((shape, j) => tensorAt(at[inputs.length + j], shape));
}

/** Like callKernel, for kernels that update their inputs in place: returns the inputs' new values. */
export function callKernelInPlace(inputs: tf.Tensor[], run: (k: KernelExports, at: number[]) => void): tf.Tensor[] {
  const at = stage(inputs, []);
  run(kernelModule(), at);
  return inputs.map((t, i) => tensorAt(at[i], t.shape));
}

/** Lays out the inputs and then `more` buffers (sizes in floats), growing memory as needed, and copies the inputs in; returns byte offsets. */
function stage(inputs: tf.Tensor[], more: number[]): number[] {
  const k = kernelModule();
  const at: number[] = [];
  let end = BASE;
  for (const n of [...inputs.map((t) => t.size), ...more]) {
    at.push(end);
    end += Math.ceil((n * 4) / 16) * 16;
  }
  const missing = end - k.memory.buffer.byteLength;
  if (missing > 0) k.memory.grow(Math.ceil(missing / 65536));
  inputs.forEach((t, i) => new Float32Array(k.memory.buffer, at[i], t.size).set(heapView(t)));
  return at;
}

/** A new tensor holding the floats at `offset` of the module's memory (tfjs copies them). */
function tensorAt(offset: number, shape: number[]): tf.Tensor {
  return tf.tensor(new Float32Array(kernelModule().memory.buffer, offset, shape.reduce((a, b) => a * b, 1)), shape, 'float32');
}

interface WasmBackendInternals {
  dataIdMap: { get(id: object): { memoryOffset: number } };
  wasm: { HEAPU8: Uint8Array };
}

/** A float32 tensor's values without a copy: a view of the wasm backend's heap. */
function heapView(x: tf.Tensor): Float32Array {
  if (x.dtype !== 'float32') throw new Error(`internal: kernel input of dtype ${x.dtype}`);
  const backend = tf.backend() as unknown as WasmBackendInternals;
  return new Float32Array(backend.wasm.HEAPU8.buffer, backend.dataIdMap.get(x.dataId).memoryOffset, x.size);
}
