import * as tf from '@tensorflow/tfjs-core';

interface RefCountingBackend {
  incRef(dataId: object): void;
}

/**
 * Replaces the wasm backend's Identity kernel, which copies, with one that shares the data as its
 * Reshape already does (the backend counts references). tfjs runs Identity for every tensor it
 * saves for the backward pass (~140 copies, ~8 ms of a training step); no wasm kernel writes
 * into its inputs, so sharing is safe.
 */
export function shareIdentityOnWasm(): void {
  if (tf.getKernel('Identity', 'wasm')?.kernelFunc === sharedIdentity) return;
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({ kernelName: 'Identity', backendName: 'wasm', kernelFunc: sharedIdentity as unknown as tf.KernelFunc });
}

function sharedIdentity({ inputs, backend }: { inputs: { x: tf.TensorInfo }; backend: RefCountingBackend }): tf.TensorInfo {
  const { x } = inputs;
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}
