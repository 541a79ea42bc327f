import bytes from 'corpus-lab-kernels.wasm';
import { tf } from '../backend';
import { NativeAddon, nativeAddon } from '../native';
import { KERNEL_NAMES, type KernelExports } from './kernel-exports';

// The WebAssembly global of Node, typed for what is used here (lib ES2022 does not declare it).
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
};

interface TensorRecord {
  memoryOffset: number;
}

interface WasmBackendInternals {
  dataIdMap: { get(id: object): TensorRecord | undefined };
  wasm: { asm: { memory: object }; _malloc(bytes: number): number; _free(at: number): void; HEAPU8: Uint8Array };
  makeOutput(shape: number[], dtype: 'float32' | 'int32'): tf.TensorInfo;
  disposeData(dataId: object): boolean;
}

let instance: { memory: object; exports: KernelExports } | undefined;
let native: { memory: object; addon: NativeAddon; exports: KernelExports } | undefined;
/** While a step is profiled (bench/step-profile.ts): the kernels handed out, wrapped so each call is timed by name. */
let timing: (<Kernels extends object>(kernels: Kernels) => Kernels) | undefined;

/** Hands out the kernels through `wrap` (or as they are, with undefined) until called again. */
export function timeKernels(wrap: typeof timing): void {
  timing = wrap;
}

function wasmBackend(): WasmBackendInternals {
  return tf.backend() as unknown as WasmBackendInternals;
}

/**
 * The kernels: the native addon's when the native engine runs (same functions and arguments, plus
 * the heap), else the AssemblyScript module, instantiated on first use on the wasm backend's own
 * memory (it is a few KB).
 */
export function kernelModule(): KernelExports {
  const memory = wasmBackend().wasm.asm.memory;
  const addon = nativeAddon();
  if (addon) {
    if (native?.memory !== memory || native.addon !== addon)
      native = { memory, addon, exports: onHeap(addon, memory as { buffer: ArrayBuffer }) };
    return timing ? timing(native.exports) : native.exports;
  }
  if (instance?.memory !== memory) {
    const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as KernelExports;
    instance = { memory, exports };
  }
  return timing ? timing(instance.exports) : instance.exports;
}

function onHeap(addon: NativeAddon, memory: { buffer: ArrayBuffer }): KernelExports {
  const out: Record<string, (...args: number[]) => void> = {};
  for (const name of KERNEL_NAMES) {
    const f = addon[name] as (heap: ArrayBuffer, ...args: number[]) => void;
    out[name] = (...args) => f(memory.buffer, ...args);
  }
  return out as unknown as KernelExports;
}

/** The native addon when the native engine runs (its extra kernels take the heap first: see heap()). */
export function nativeKernels(): NativeAddon | undefined {
  const addon = tf.getBackend() === 'wasm' ? nativeAddon() : undefined;
  return addon && timing ? timing(addon) : addon;
}

/** The native addon for a kernel only it has; an internal error when the native engine is not running. */
export function requireNative(kernel: string): NativeAddon {
  const native = nativeKernels();
  if (!native) throw new Error(`internal: the ${kernel} kernel needs the native engine`);
  return native;
}

/** The wasm backend's heap as it is now (growing the memory replaces the buffer). */
export function heap(): ArrayBuffer {
  return (wasmBackend().wasm.asm.memory as { buffer: ArrayBuffer }).buffer;
}

/** Whether the kernels can run: they work on the wasm backend's heap. */
export function kernelsAvailable(): boolean {
  return tf.getBackend() === 'wasm';
}

/**
 * Runs one kernel call on tensors where they lie in the wasm backend's heap: `run` gets the byte
 * offsets of the inputs, of new outputs (shapes) and of `scratch` floats freed after the call,
 * and the outputs come back as tensors. Nothing is copied.
 */
export function callKernel(
  inputs: tf.Tensor[],
  outputs: number[][],
  scratch: number,
  run: (k: KernelExports, at: number[]) => void,
): tf.Tensor[] {
  const backend = wasmBackend();
  const k = kernelModule();
  const inAt = inputs.map((t) => offsetOf(backend, t));
  const made = outputs.map((shape) => backend.makeOutput(shape, 'float32'));
  const scratchAt = scratch > 0 ? backend.wasm._malloc(scratch * 4) : 0;
  try {
    run(k, [...inAt, ...made.map((info) => offsetOf(backend, info)), scratchAt]);
  } catch (e) {
    for (const info of made) backend.disposeData(info.dataId);
    throw e;
  } finally {
    if (scratchAt) backend.wasm._free(scratchAt);
  }
  return made.map((info) => tf.engine().makeTensorFromTensorInfo(info));
}

/**
 * A new tensor in the wasm backend's heap, its values not set, and its bytes there to write them
 * into (the view is good until the heap next grows: any tensor made after it).
 */
export function emptyHeapTensor(shape: number[], dtype: 'float32' | 'int32'): { tensor: tf.Tensor; bytes: Uint8Array } {
  const backend = wasmBackend();
  const info = backend.makeOutput(shape, dtype);
  const bytes = new Uint8Array(heap(), offsetOf(backend, info), 4 * shape.reduce((a, b) => a * b, 1));
  return { tensor: tf.engine().makeTensorFromTensorInfo(info), bytes };
}

/** A float32 tensor's values where they lie in the wasm backend's heap (no copy); undefined on other backends. */
export function heapFloats(t: tf.Tensor): Float32Array | undefined {
  if (!kernelsAvailable()) return undefined;
  const backend = wasmBackend();
  return new Float32Array(backend.wasm.HEAPU8.buffer, offsetOf(backend, t), t.size);
}

/** Where a float32 or int32 tensor's values start in the wasm backend's heap (bytes). */
export function heapOffset(t: tf.TensorInfo): number {
  return offsetOf(wasmBackend(), t);
}

function offsetOf(backend: WasmBackendInternals, t: tf.TensorInfo): number {
  if (t.dtype !== 'float32' && t.dtype !== 'int32') throw new Error(`internal: kernel tensor of dtype ${t.dtype}`);
  const record = backend.dataIdMap.get(t.dataId);
  if (!record) throw new Error('internal: kernel tensor has no data on the wasm backend');
  return record.memoryOffset;
}
