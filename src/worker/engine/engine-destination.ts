import { tf } from './backend';
import { TensorDestination, TensorHeader } from '../../core/safetensors';
import { emptyHeapTensor, kernelsAvailable, nativeKernels } from './kernels/kernel-module';

/**
 * Where a folder's weights are read straight into on the wasm backend: tensors made in its heap
 * (put in `held` by name), so a model's bytes are never in host memory beside the engine's copy.
 * Matrices stay BF16 (kernels/bf16-matrix.ts) when every stored matrix is BF16 and the native
 * engine runs; other BF16 tensors, and F16 ones, are left to the host (widened there). Undefined
 * on the other backends, which have no such heap.
 */
export function engineDestination(held: Map<string, tf.Tensor>): ((header: Map<string, TensorHeader>) => TensorDestination) | undefined {
  if (!kernelsAvailable()) return undefined;
  return (header) => {
    const matrices = [...header.values()].filter((h) => h.shape.length === 2);
    const bf16 = nativeKernels() !== undefined && matrices.every((h) => h.dtype === 'BF16' && h.shape[1] % 2 === 0);
    return (name, dtype, shape) => {
      const packed = bf16 && dtype === 'BF16' && shape.length === 2;
      if (dtype !== 'F32' && !packed) return undefined;
      const { tensor, bytes } = emptyHeapTensor(packed ? [shape[0], shape[1] / 2] : shape, packed ? 'int32' : 'float32');
      held.set(name, tensor);
      return bytes;
    };
  };
}
