// Our own SGEMM beside OpenBLAS on one thread, in one process (CPU time, rounds alternating): the
// large products of a training step at GPT-2 small's shape (1,024 tokens, 768 wide, MLP 3,072) and
// SmolLM2-135M's (512 tokens, 576 wide, MLP 1,536, a vocabulary chunk of 8,192), each as the step
// uses it (forward, input gradient, weight gradient), and the standard config's. Compiles
// native/gemm*.cc with binding.gyp's flags and bench-gemm-openblas/harness.cc against the system's
// static OpenBLAS (Debian: libopenblas-pthread-dev), only for this benchmark; the addon never links it.
//
// usage: node scripts/bench-gemm-openblas.mjs [--simd avx512|avx2|generic] [--rounds 1]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { arch, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: a } = parseArgs({ options: { simd: { type: 'string' }, rounds: { type: 'string', default: '1' } } });

const triplet = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[arch()];
const library = `/usr/lib/${triplet}/openblas-pthread/libopenblas.a`;
const headers = `/usr/include/${triplet}/openblas-pthread`;
if (process.platform !== 'linux' || !triplet || !existsSync(library) || !existsSync(join(headers, 'cblas.h'))) {
  console.error(`bench-gemm-openblas: needs Debian's static OpenBLAS (${library}; apt-get install libopenblas-pthread-dev)`);
  process.exit(2);
}

/** [name, transA, transB, m, n, k]: y = x·W (W [in, out]), dx = dy·Wᵀ, dW = xᵀ·dy; Llama's x·Wᵀ (W [out, in]). */
const linear = (what, tokens, inputs, outputs) => [
  [`${what} x·W`, 0, 0, tokens, outputs, inputs],
  [`${what} dy·Wᵀ`, 0, 1, tokens, inputs, outputs],
  [`${what} xᵀ·dy`, 1, 0, inputs, outputs, tokens],
];
const llama = (what, tokens, inputs, outputs) => [
  [`${what} x·Wᵀ`, 0, 1, tokens, outputs, inputs],
  [`${what} dy·W`, 0, 0, tokens, inputs, outputs],
  [`${what} dyᵀ·x`, 1, 0, outputs, inputs, tokens],
];
const products = [
  ...linear('std qkv', 768, 128, 384),
  ...linear('std mlp down', 768, 512, 128),
  ...linear('gpt2 qkv', 1024, 768, 2304),
  ...linear('gpt2 mlp up', 1024, 768, 3072),
  ...linear('gpt2 mlp down', 1024, 3072, 768),
  ...llama('smol gate', 512, 576, 1536),
  ...llama('smol head chunk', 512, 576, 8192),
];

const work = mkdtempSync(join(tmpdir(), 'corpus-lab-gemm-openblas-'));
try {
  const common = ['-std=c++17', '-O3', '-fno-math-errno', '-fno-trapping-math', '-fvisibility=hidden', `-I${join(repo, 'native')}`];
  const gyp = JSON.parse(readFileSync(join(repo, 'binding.gyp'), 'utf8'));
  const targets = [...gyp.targets, ...(triplet === 'x86_64-linux-gnu' ? gyp.conditions[0][1].targets : [])];
  const units = targets
    .filter((t) => t.target_name.startsWith('gemm_'))
    .map((t) => ({ source: t.sources[0], flags: t.cflags_cc }))
    .concat([{ source: 'native/gemm.cc', flags: ['-ffp-contract=off'] }]);
  const objects = units.map(({ source, flags }, i) => {
    const object = join(work, `${i}.o`);
    execFileSync('g++', [...common, ...flags, '-c', join(repo, source), '-o', object], { stdio: 'inherit' });
    return object;
  });
  const binary = join(work, 'harness');
  execFileSync(
    'g++',
    [...common, `-I${headers}`, join(repo, 'scripts/bench-gemm-openblas/harness.cc'), ...objects, library, '-lpthread', '-o', binary],
    {
      stdio: 'inherit',
    },
  );
  // OpenBLAS 0.3.21 picks Prescott's kernels on CPUs it does not know: name the ones this CPU has.
  const flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
  const core = /\bavx512f\b/.test(flags) ? 'SkylakeX' : /\bavx2\b/.test(flags) ? 'Haswell' : undefined;
  const env = { ...process.env, ...(core && !process.env.OPENBLAS_CORETYPE ? { OPENBLAS_CORETYPE: core } : {}) };
  if (a.simd) env.CORPUS_LAB_SIMD = a.simd;
  const args = products.map(([name, ta, tb, m, n, k]) => [name, ta, tb, m, n, k].join(','));
  for (let round = 1; round <= Number(a.rounds); round++) {
    const before = loadavg()[0].toFixed(1);
    const r = spawnSync(binary, args, { env, encoding: 'utf8' });
    if (r.status !== 0) {
      console.error(`bench-gemm-openblas: the harness failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
      process.exit(2);
    }
    console.log(`round ${round}, one thread, CPU time (load ${before} → ${loadavg()[0].toFixed(1)}), ${a.simd ?? 'default'} kernels:`);
    process.stdout.write(r.stdout);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
