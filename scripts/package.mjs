// `npm run package` (after `npm run build`): the universal .vsix (wasm engine only: .vscodeignore
// keeps dist/corpus_lab_native.node out) and, where the native addon is built for this platform,
// a platform .vsix (`vsce package --target linux-x64`, …) with the prebuilt addon inside.
// --universal-only / --target-only build just one of them.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ADDON = 'dist/corpus_lab_native.node';
const only = process.argv.find((a) => a === '--universal-only' || a === '--target-only');
// The platforms the addon is built for (binding.gyp); vsce's names for them.
const TARGETS = { 'linux-x64': 'linux-x64', 'linux-arm64': 'linux-arm64', 'darwin-x64': 'darwin-x64', 'darwin-arm64': 'darwin-arm64' };

function vsce(args) {
  const bin = join(root, 'node_modules/@vscode/vsce/vsce');
  const r = spawnSync(process.execPath, [bin, 'package', '--no-dependencies', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const mb = (path) => `${(statSync(path).size / 1e6).toFixed(1)} MB`;

if (only !== '--target-only') {
  vsce(['--out', 'corpus-lab.vsix']);
  console.log(`corpus-lab.vsix (universal, wasm engine): ${mb(join(root, 'corpus-lab.vsix'))}`);
}

if (only !== '--universal-only') {
  const target = TARGETS[`${process.platform}-${process.arch}`];
  if (!target) {
    console.log(`no platform .vsix: the native engine is not built on ${process.platform}-${process.arch}`);
  } else if (!existsSync(join(root, ADDON))) {
    console.log(`no ${target} .vsix: ${ADDON} is missing (npm run build:native)`);
    if (only === '--target-only') process.exit(1);
  } else {
    // The same ignore rules with the addon let in (vsce has one ignore file per package).
    const work = mkdtempSync(join(tmpdir(), 'corpus-lab-package-'));
    const ignore = join(work, '.vscodeignore');
    writeFileSync(ignore, `${readFileSync(join(root, '.vscodeignore'), 'utf8').trimEnd()}\n!${ADDON}\n`);
    const out = `corpus-lab-${target}.vsix`;
    try {
      vsce(['--target', target, '--ignoreFile', ignore, '--out', out]);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    console.log(`${out} (native engine, ${ADDON} ${mb(join(root, ADDON))} unpacked): ${mb(join(root, out))}`);
  }
}
