// Bytes of the AssemblyScript kernels module, embedded by scripts/wasm-kernels.mjs.
declare module 'corpus-lab-kernels.wasm' {
  const bytes: Uint8Array;
  export default bytes;
}
