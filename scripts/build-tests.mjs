// Compiles test/unit/**/*.test.ts to out/test/unit/*.test.js (node:test runs the output).
import * as esbuild from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBundleOptions } from './node-bundle.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const node = nodeBundleOptions(root);
const dir = join(root, 'test/unit');
const entries = readdirSync(dir).filter((f) => f.endsWith('.test.ts')).map((f) => join(dir, f));
rmSync(join(root, 'out/test/unit'), { recursive: true, force: true });
await esbuild.build({
  ...node,
  entryPoints: entries,
  outdir: join(root, 'out/test/unit'),
  sourcemap: 'inline',
});

// Integration tests run inside the VS Code extension host: vscode and mocha come from there / node_modules.
const integration = join(root, 'test/integration');
rmSync(join(root, 'out/test/integration'), { recursive: true, force: true });
await esbuild.build({
  ...node,
  entryPoints: readdirSync(integration).filter((f) => f.endsWith('.ts')).map((f) => join(integration, f)),
  outdir: join(root, 'out/test/integration'),
  sourcemap: 'inline',
  external: [...node.external, 'mocha'],
});
