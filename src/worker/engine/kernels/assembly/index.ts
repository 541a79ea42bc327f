// The one WebAssembly module of Corpus Lab's own kernels (AssemblyScript; scripts/wasm-kernels.mjs
// compiles it and esbuild embeds the bytes in the worker bundle). It imports the wasm backend's
// memory and works on tensors where they lie.
export { attentionForward, attentionBackward } from './attention';
export { geluForward, geluBackward } from './gelu';
export { adamwUpdate } from './adamw';
export { layerNormForward, layerNormBackward } from './layer-norm';
export { columnSums, transpose2d } from './matrix';
export { expArray } from './math';
