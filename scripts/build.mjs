// Bundles the CLI, the worker and (later) the extension and webviews into dist/ with esbuild,
// and copies the tfjs wasm binaries next to the bundles.
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
mkdirSync(dist, { recursive: true });

const nodeEntries = [
  { in: 'src/cli/main.ts', out: 'cli' },
  { in: 'src/worker/main.ts', out: 'worker' },
  { in: 'src/extension/main.ts', out: 'extension' },
].filter((e) => existsSync(join(root, e.in)));

await esbuild.build({
  absWorkingDir: root,
  entryPoints: nodeEntries,
  outdir: dist,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  // tfjs-core ships both; 'module' first keeps a single copy of it in the bundle.
  mainFields: ['module', 'main'],
  // vscode is provided by the host; tfjs-node is optional and loaded only when its binding exists.
  external: ['vscode', '@tensorflow/tfjs-node'],
  // tfjs-core's fetch polyfill is never used by us.
  alias: { 'node-fetch': join(root, 'scripts/empty-module.cjs') },
  logLevel: 'warning',
  // engine.ts resolves the wasm package only when the .wasm files are not beside the bundle (tests).
  logOverride: { 'require-resolve-not-external': 'silent' },
  legalComments: 'none',
});

const wasmDir = join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
for (const f of readdirSync(wasmDir)) {
  if (f.endsWith('.wasm')) copyFileSync(join(wasmDir, f), join(dist, f));
}
writeFileSync(join(dist, 'package.json'), JSON.stringify({ type: 'commonjs' }) + '\n');
