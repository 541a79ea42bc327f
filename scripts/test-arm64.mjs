// `npm run test:arm64`: the native engine cross-built for linux-arm64 and the unit tests run on it
// under emulation (qemu-user through binfmt_misc, an arm64 Node from Debian's packages: N-API is
// ABI-stable, so Node 18's arm64 build loads the same addon Node 20 would).
//
// Set-up it does itself as root on Debian (and says what to run otherwise): g++-aarch64-linux-gnu
// and qemu-user, dpkg's arm64 architecture, Node's arm64 packages unpacked into .cache/arm64-root,
// the qemu-aarch64 binfmt handler. Without --all it runs the native engine's own test files
// (KERNEL_TESTS), since every file takes 10–50× longer emulated.
//
// usage: node scripts/test-arm64.mjs [--all] [--build-only] [test/unit/X.test.ts…]
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    all: { type: 'boolean', default: false },
    'build-only': { type: 'boolean', default: false },
  },
});
const sysroot = join(root, '.cache/arm64-root');
const buildDir = join(root, '.cache/arm64-build');
const addon = join(buildDir, 'build/Release/corpus_lab_native.node');
// Same depth as out/test/unit, so the tests' paths to their fixtures hold.
const testDir = join(root, 'out/test/unit-arm64');
const arm64Node = join(sysroot, 'usr/bin/node');
const isRoot = process.getuid?.() === 0;
// Node's arm64 package, the libraries libnode links and the JavaScript Debian keeps outside it.
const NODE_PACKAGES = [
  'nodejs:arm64',
  'libnode108:arm64',
  'libbrotli1:arm64',
  'libc-ares2:arm64',
  'libicu72:arm64',
  'libnghttp2-14:arm64',
  'libssl3:arm64',
  'libuv1:arm64',
  'zlib1g:arm64',
  'libstdc++6:arm64',
  'libgcc-s1:arm64',
  'libc6:arm64',
  'node-acorn',
  'node-cjs-module-lexer',
  'node-undici',
  'node-busboy',
];

// The native engine's own tests: its matrix products per SIMD path, every kernel and fused call against
// the tfjs ops, decoding, BF16 and the one-call optimizer. The whole suite takes hours emulated (--all).
const KERNEL_TESTS = [
  'gemm.test.ts',
  'native.test.ts',
  'llama-kernels.test.ts',
  'gpt2-block.test.ts',
  'optimizer-one-call.test.ts',
  'decode.test.ts',
  'bf16-model.test.ts',
  'backward-memory.test.ts',
  'llama-block.test.ts',
  'linear-cross-entropy.test.ts',
];

function fail(message) {
  console.error(`test:arm64: ${message}`);
  process.exit(2);
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...options });
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
  return r;
}

const onPath = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

function ensureTools() {
  const missing = [];
  if (!onPath('aarch64-linux-gnu-g++')) missing.push('g++-aarch64-linux-gnu');
  if (!onPath('qemu-aarch64')) missing.push('qemu-user');
  if (!missing.length) return;
  if (!isRoot || !onPath('apt-get')) fail(`needs ${missing.join(' and ')}: apt-get install ${missing.join(' ')}`);
  run('apt-get', ['install', '-y', '-q', ...missing], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

function ensureSysroot() {
  if (existsSync(arm64Node)) return;
  const arches = spawnSync('dpkg', ['--print-foreign-architectures'], { encoding: 'utf8' }).stdout ?? '';
  if (!arches.split('\n').includes('arm64')) {
    if (!isRoot) fail('needs the arm64 package lists: dpkg --add-architecture arm64 && apt-get update');
    run('dpkg', ['--add-architecture', 'arm64']);
    run('apt-get', ['update', '-q']);
  }
  const download = mkdtempSync(join(tmpdir(), 'corpus-lab-arm64-'));
  try {
    run('apt-get', ['download', ...NODE_PACKAGES], { cwd: download });
    mkdirSync(sysroot, { recursive: true });
    for (const deb of readdirSync(download).filter((f) => f.endsWith('.deb'))) run('dpkg', ['-x', join(download, deb), sysroot]);
  } finally {
    rmSync(download, { recursive: true, force: true });
  }
  if (!existsSync(arm64Node)) fail(`Debian's nodejs:arm64 did not unpack a node into ${sysroot}`);
}

function ensureBinfmt() {
  const handler = '/proc/sys/fs/binfmt_misc/qemu-aarch64';
  if (existsSync(handler)) return;
  const conf = '/usr/lib/binfmt.d/qemu-aarch64.conf';
  if (!isRoot || !existsSync(conf))
    fail(
      `needs qemu-aarch64 registered with binfmt_misc (${handler} is missing): as root, cat ${conf} > /proc/sys/fs/binfmt_misc/register`,
    );
  if (!existsSync('/proc/sys/fs/binfmt_misc/register')) run('mount', ['-t', 'binfmt_misc', 'binfmt_misc', '/proc/sys/fs/binfmt_misc']);
  writeFileSync('/proc/sys/fs/binfmt_misc/register', readFileSync(conf));
}

function crossBuild() {
  rmSync(buildDir, { recursive: true, force: true });
  mkdirSync(buildDir, { recursive: true });
  cpSync(join(root, 'binding.gyp'), join(buildDir, 'binding.gyp'));
  cpSync(join(root, 'native'), join(buildDir, 'native'), { recursive: true });
  const gyp = join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  if (!existsSync(gyp)) fail(`npm's node-gyp was not found at ${gyp}`);
  const env = {
    ...process.env,
    CC: 'aarch64-linux-gnu-gcc',
    CXX: 'aarch64-linux-gnu-g++',
    LINK: 'aarch64-linux-gnu-g++',
    AR: 'aarch64-linux-gnu-ar',
  };
  const r = spawnSync(process.execPath, [gyp, 'rebuild', '--arch=arm64', `--nodedir=${join(dirname(process.execPath), '..')}`], {
    cwd: buildDir,
    env,
    encoding: 'utf8',
  });
  if (r.status !== 0) fail(`the arm64 build failed:\n${`${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-15).join('\n')}`);
  const kind = spawnSync('file', ['-b', addon], { encoding: 'utf8' }).stdout ?? '';
  if (!/aarch64/.test(kind)) fail(`the cross-built addon is not an arm64 ELF: ${kind.trim()}`);
  console.log(`arm64 addon: ${addon} (${kind.split(',').slice(0, 2).join(',').trim()})`);
}

function testSources() {
  if (positionals.length) return positionals.map((f) => join(root, 'test/unit', basename(f).replace(/\.js$/, '.ts')));
  const sources = readdirSync(join(root, 'test/unit')).filter((f) => f.endsWith('.test.ts'));
  return (opts.all ? sources : KERNEL_TESTS).map((f) => join(root, 'test/unit', f));
}

/** Bundles the chosen tests as scripts/build-tests.mjs does, into a directory of their own (that one wipes out/test/unit). */
async function buildTests(sources) {
  const { build } = await import('esbuild');
  const { nodeBundleOptions } = await import('./node-bundle.mjs');
  const node = nodeBundleOptions(root);
  const replicaScript = join(root, 'out/replica-arm64.js');
  await build({
    ...node,
    entryPoints: [{ in: join(root, 'src/worker/train/replicas/replica-main.ts'), out: 'replica-arm64' }],
    outdir: join(root, 'out'),
    sourcemap: 'inline',
  });
  rmSync(testDir, { recursive: true, force: true });
  await build({
    ...node,
    entryPoints: sources,
    outdir: testDir,
    sourcemap: 'inline',
    define: { 'process.env.CORPUS_LAB_REPLICA_SCRIPT': JSON.stringify(replicaScript) },
  });
  return sources.map((f) => join(testDir, basename(f).replace(/\.ts$/, '.js')));
}

ensureTools();
ensureSysroot();
ensureBinfmt();
crossBuild();
if (opts['build-only']) process.exit(0);
const files = await buildTests(testSources());
const env = {
  ...process.env,
  QEMU_LD_PREFIX: sysroot,
  LD_LIBRARY_PATH: join(sysroot, 'usr/lib/aarch64-linux-gnu'),
  CORPUS_LAB_NATIVE_ADDON: addon,
  // The unit tests skip the native engine when its addon does not load, except in CI.
  CI: 'true',
};
const version = spawnSync(arm64Node, ['-p', '`${process.arch} Node ${process.version}`'], { env, encoding: 'utf8' });
if (version.status !== 0) fail(`the arm64 Node does not start under qemu: ${(version.stderr || '').trim().split('\n')[0]}`);
console.log(`running ${files.length} unit test files on ${version.stdout.trim()} under qemu: ${files.map((f) => basename(f)).join(' ')}`);
const started = Date.now();
const r = spawnSync(arm64Node, ['--test', ...files], { cwd: root, env, stdio: 'inherit' });
console.log(`test:arm64: ${r.status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
process.exit(r.status ?? 1);
