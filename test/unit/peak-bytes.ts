import { tf } from '../../src/worker/engine/backend';

interface WasmBackend {
  write(values: unknown, shape: number[], dtype: tf.DataType): object;
  disposeData(dataId: object, force?: boolean): boolean;
}

/**
 * The most bytes of tensor data the wasm backend (where the native engine keeps tensors too) held
 * while `f` ran, above what it held before. (tf.memory counts a tensor sharing another's data twice.)
 */
export function peakBytes(f: () => tf.TensorContainer): number {
  const backend = tf.backend() as unknown as WasmBackend;
  const sizes = new Map<object, number>();
  let live = 0;
  let peak = 0;
  backend.write = function (this: WasmBackend, values, shape, dtype) {
    const dataId = Object.getPrototypeOf(this).write.call(this, values, shape, dtype);
    const bytes = shape.reduce((n, d) => n * d, 1) * (dtype === 'string' ? 0 : tf.util.bytesPerElement(dtype));
    sizes.set(dataId, bytes);
    live += bytes;
    peak = Math.max(peak, live);
    return dataId;
  };
  backend.disposeData = function (this: WasmBackend, dataId, force) {
    const gone = Object.getPrototypeOf(this).disposeData.call(this, dataId, force);
    if (gone && sizes.has(dataId)) {
      live -= sizes.get(dataId)!;
      sizes.delete(dataId);
    }
    return gone;
  };
  try {
    tf.dispose(f());
  } finally {
    delete (backend as Partial<WasmBackend>).write;
    delete (backend as Partial<WasmBackend>).disposeData;
  }
  return peak;
}
