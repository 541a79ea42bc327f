// esbuild options shared by every Node bundle: the product's (cli, worker, extension) and the tests'.
import { join } from 'node:path';
import { wasmKernelsPlugin } from './wasm-kernels.mjs';

export function nodeBundleOptions(root) {
  return {
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    plugins: [wasmKernelsPlugin(root)],
    // tfjs-core ships both; 'module' first keeps a single copy of it in the bundle.
    mainFields: ['module', 'main'],
    // vscode is provided by the host; tfjs-node is optional and loaded only when its binding exists.
    external: ['vscode', '@tensorflow/tfjs-node'],
    // tfjs-core's fetch polyfill is never used by us.
    alias: { 'node-fetch': join(root, 'scripts/empty-module.cjs') },
    logLevel: 'warning',
    // engine.ts resolves the wasm package only when the .wasm files are not beside the bundle (tests).
    logOverride: { 'require-resolve-not-external': 'silent' },
  };
}
