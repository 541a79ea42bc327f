// Builds the native engine (native/, binding.gyp) with npm's own node-gyp and copies the addon into
// dist/. It needs only a C++ compiler (its matrix products are its own, native/gemm*.cc). Run by
// `npm install` (it must never fail the install: without a compiler it prints how to get the native
// engine and exits 0) and by `npm run build:native` (--strict: a failed build is an error).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { replaceFile } from './replace-file.mjs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');
const HOW = 'apt-get install build-essential && npm run build:native';

function giveUp(why) {
  console.log(
    `corpus-lab: native engine not built (${why}); the wasm engine will be used. To get it: ${process.platform === 'darwin' ? 'xcode-select --install && npm run build:native' : HOW}`,
  );
  process.exit(strict ? 1 : 0);
}

function onPath(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function nodeGyp() {
  // npm sets npm_config_node_gyp for its scripts; otherwise use the one npm bundles.
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
    join(dirname(process.execPath), 'node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ];
  return candidates.find((p) => p && existsSync(p));
}

if (process.env.CORPUS_LAB_SKIP_NATIVE) giveUp('CORPUS_LAB_SKIP_NATIVE is set');
if (process.platform === 'linux') {
  if (!onPath('c++') || !onPath('make')) giveUp('no C++ compiler or make');
} else if (process.platform === 'darwin') {
  if (!onPath('c++')) giveUp('no C++ compiler');
} else {
  giveUp(`not built on ${process.platform}`);
}
const gyp = nodeGyp();
if (!gyp) giveUp("npm's node-gyp was not found");

const args = [gyp, 'rebuild'];
// Node's own headers when they are installed next to it (no download needed).
const headers = join(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(headers, 'include/node/node_api.h'))) args.push(`--nodedir=${headers}`);
const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
if (r.status !== 0) {
  const tail = `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-15).join('\n');
  if (strict) console.error(tail);
  giveUp(`node-gyp failed${strict ? '' : ': run npm run build:native to see why'}`);
}
const built = join(root, 'build/Release/corpus_lab_native.node');
mkdirSync(join(root, 'dist'), { recursive: true });
replaceFile(built, join(root, 'dist/corpus_lab_native.node'));
console.log('corpus-lab: native engine built (dist/corpus_lab_native.node)');
