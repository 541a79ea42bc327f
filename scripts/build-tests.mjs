// Compiles test/unit/**/*.test.ts to out/test/unit/*.test.js (node:test runs the output).
import * as esbuild from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBundleOptions } from './node-bundle.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const node = nodeBundleOptions(root);
const dir = join(root, 'test/unit');
const entries = readdirSync(dir)
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => join(dir, f));
rmSync(join(root, 'out/test/unit'), { recursive: true, force: true });

// The training threads' replica script: dist/replica.js sits next to the bundles that start it;
// the test bundles are told where theirs is (not under out/test, where node --test would run it).
const replicaScript = join(root, 'out/replica.js');
await esbuild.build({
  ...node,
  entryPoints: [{ in: join(root, 'src/worker/train/replicas/replica-main.ts'), out: 'replica' }],
  outdir: join(root, 'out'),
  sourcemap: 'inline',
});

await esbuild.build({
  ...node,
  entryPoints: entries,
  outdir: join(root, 'out/test/unit'),
  sourcemap: 'inline',
  define: { 'process.env.CORPUS_LAB_REPLICA_SCRIPT': JSON.stringify(replicaScript) },
});
// Integration tests run inside the VS Code extension host: vscode and mocha come from there / node_modules.
const integration = join(root, 'test/integration');
rmSync(join(root, 'out/test/integration'), { recursive: true, force: true });
await esbuild.build({
  ...node,
  entryPoints: readdirSync(integration)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(integration, f)),
  outdir: join(root, 'out/test/integration'),
  sourcemap: 'inline',
  external: [...node.external, 'mocha'],
});
