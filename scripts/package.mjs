// `npm run package` (after `npm run build`): the universal .vsix (wasm engine only: .vscodeignore
// keeps dist/corpus_lab_native.node out) and, where the native addon is built for this platform,
// a platform .vsix (`vsce package --target linux-x64`, …) with the prebuilt addon inside.
// --universal-only / --target-only build just one of them. `--target linux-arm64 --addon FILE` packages
// another platform's addon (the cross build of `npm run test:arm64`, .cache/arm64-build/…) instead of
// this machine's: it stands in dist/ while vsce runs, and this machine's is put back.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ADDON = 'dist/corpus_lab_native.node';
const { values: opts } = parseArgs({
  options: {
    'universal-only': { type: 'boolean', default: false },
    'target-only': { type: 'boolean', default: false },
    target: { type: 'string' },
    addon: { type: 'string' },
  },
});
const only = opts['universal-only'] ? '--universal-only' : opts['target-only'] || opts.target ? '--target-only' : undefined;
// An ELF addon's machine, so a cross-built one is packaged for the platform it runs on.
const ELF_MACHINES = { 0x3e: 'x64', 0xb7: 'arm64' };
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
  if (Boolean(opts.target) !== Boolean(opts.addon))
    fail('--target and --addon go together (e.g. --target linux-arm64 --addon .cache/arm64-build/build/Release/corpus_lab_native.node)');
  const target = opts.target ? TARGETS[opts.target] : TARGETS[`${process.platform}-${process.arch}`];
  if (opts.target) {
    if (!target) fail(`--target ${opts.target}: one of ${Object.keys(TARGETS).join(', ')}`);
    if (!existsSync(opts.addon)) fail(`--addon ${opts.addon} does not exist (npm run test:arm64 -- --build-only cross-builds it)`);
    const machine = elfMachine(opts.addon);
    if (opts.target.startsWith('linux-') && machine !== opts.target.slice(6))
      fail(`--addon ${opts.addon} is built for ${machine ?? 'no Linux machine'}, not ${opts.target}`);
    withAddonInDist(opts.addon, () => platformVsix(target));
  } else if (!target) {
    console.log(`no platform .vsix: the native engine is not built on ${process.platform}-${process.arch}`);
  } else if (!existsSync(join(root, ADDON))) {
    console.log(`no ${target} .vsix: ${ADDON} is missing (npm run build:native)`);
    if (only === '--target-only') process.exit(1);
  } else {
    platformVsix(target);
  }
}

function fail(message) {
  console.error(`package: ${message}`);
  process.exit(2);
}

function elfMachine(path) {
  const head = readFileSync(path).subarray(0, 20);
  if (head.readUInt32BE(0) !== 0x7f454c46) return undefined;
  return ELF_MACHINES[head.readUInt16LE(18)];
}

/** Runs `make` with `addon` standing in dist/ for this machine's, which is put back afterwards. */
function withAddonInDist(addon, make) {
  const own = join(root, ADDON);
  const kept = `${own}.this-machine`;
  if (existsSync(own)) renameSync(own, kept);
  try {
    copyFileSync(addon, own);
    make();
  } finally {
    rmSync(own, { force: true });
    if (existsSync(kept)) renameSync(kept, own);
  }
}

function platformVsix(target) {
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
