// Compiles test/unit/**/*.test.ts to out/test/unit/*.test.js (node:test runs the output).
import * as esbuild from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { wasmKernelsPlugin } from './wasm-kernels.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'test/unit');
const entries = readdirSync(dir).filter((f) => f.endsWith('.test.ts')).map((f) => join(dir, f));
rmSync(join(root, 'out/test/unit'), { recursive: true, force: true });
await esbuild.build({
  absWorkingDir: root,
  entryPoints: entries,
  outdir: join(root, 'out/test/unit'),
  bundle: true,
  platform: 'node',
  plugins: [wasmKernelsPlugin(root)],
  target: 'node20',
  format: 'cjs',
  sourcemap: 'inline',
  mainFields: ['module', 'main'],
  external: ['@tensorflow/tfjs-node'],
  alias: { 'node-fetch': join(root, 'scripts/empty-module.cjs') },
  logOverride: { 'require-resolve-not-external': 'silent' },
  logLevel: 'warning',
});

// Integration tests run inside the VS Code extension host: vscode and mocha come from there / node_modules.
const integration = join(root, 'test/integration');
rmSync(join(root, 'out/test/integration'), { recursive: true, force: true });
await esbuild.build({
  absWorkingDir: root,
  entryPoints: readdirSync(integration).filter((f) => f.endsWith('.ts')).map((f) => join(integration, f)),
  outdir: join(root, 'out/test/integration'),
  bundle: true,
  platform: 'node',
  plugins: [wasmKernelsPlugin(root)],
  target: 'node20',
  format: 'cjs',
  sourcemap: 'inline',
  external: ['vscode', 'mocha'],
  logLevel: 'warning',
});
