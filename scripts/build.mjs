// Bundles the CLI, the worker and (later) the extension and webviews into dist/ with esbuild,
// and copies the tfjs wasm binaries next to the bundles.
import * as esbuild from 'esbuild';
import { replaceFile } from './replace-file.mjs';
import { copyFileSync, mkdirSync, readdirSync, existsSync, writeFileSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBundleOptions } from './node-bundle.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
mkdirSync(dist, { recursive: true });

const nodeEntries = [
  { in: 'src/cli/main.ts', out: 'cli' },
  { in: 'src/worker/main.ts', out: 'worker' },
  { in: 'src/worker/train/replicas/replica-main.ts', out: 'replica' },
  { in: 'src/extension/main.ts', out: 'extension' },
].filter((e) => existsSync(join(root, e.in)));

await esbuild.build({
  ...nodeBundleOptions(root),
  entryPoints: nodeEntries,
  outdir: dist,
  sourcemap: true,
  legalComments: 'none',
});

// Webview front-ends: plain browser scripts, one bundle each, served from dist/media.
const media = join(dist, 'media');
mkdirSync(media, { recursive: true });
await esbuild.build({
  absWorkingDir: root,
  entryPoints: [
    { in: 'media/loss-chart/main.ts', out: 'loss-chart' },
    { in: 'media/tokens/main.ts', out: 'tokens' },
    { in: 'media/next-token/main.ts', out: 'next-token' },
    { in: 'media/attention/main.ts', out: 'attention' },
    { in: 'media/surprisal/main.ts', out: 'surprisal' },
    { in: 'media/compare/main.ts', out: 'compare' },
  ],
  outdir: media,
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: 'es2022',
  minify: true,
  logLevel: 'warning',
  legalComments: 'none',
});
const css = (parts) => parts.map((p) => readFileSync(join(root, p), 'utf8')).join('\n');
writeFileSync(join(media, 'loss-chart.css'), css(['node_modules/uplot/dist/uPlot.min.css', 'media/loss-chart/style.css']));
writeFileSync(join(media, 'tokens.css'), css(['media/tokens/style.css']));
writeFileSync(join(media, 'compare.css'), css(['node_modules/uplot/dist/uPlot.min.css', 'media/compare/style.css']));
for (const view of ['next-token', 'attention', 'surprisal']) writeFileSync(join(media, `${view}.css`), css([`media/${view}/style.css`]));

const wasmDir = join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
for (const f of readdirSync(wasmDir)) {
  if (f.endsWith('.wasm')) copyFileSync(join(wasmDir, f), join(dist, f));
}
// The PyTorch scripts export-torch copies into each export.
mkdirSync(join(dist, 'torch'), { recursive: true });
for (const script of ['train.py', 'train_peft.py']) copyFileSync(join(root, 'torch', script), join(dist, 'torch', script));
writeFileSync(join(dist, 'package.json'), JSON.stringify({ type: 'commonjs' }) + '\n');

// The native engine's addon (scripts/build-native.mjs), when it was built: next to the bundles.
const addon = join(root, 'build/Release/corpus_lab_native.node');
if (existsSync(addon)) replaceFile(addon, join(dist, 'corpus_lab_native.node'));
