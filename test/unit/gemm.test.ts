import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadAddon, type NativeAddon } from '../../src/worker/engine/native';

// The native engine's own SGEMM and SGEMV (native/gemm*.cc) against a float64 reference, over
// shapes at and around every tile and block edge, both transposes, alpha, beta (0 must ignore NaNs
// in the output, as BLAS does) and padded leading dimensions, on one thread and split over two.
// The kernels are chosen once per process, so each SIMD path this CPU has runs in a child process
// with CORPUS_LAB_SIMD set.
const loaded = loadAddon();
const skip = 'why' in loaded && process.env.CI !== 'true' ? `native engine not available: ${loaded.why}` : false;
const CHILD = 'CORPUS_LAB_GEMM_CHECK';

/** The paths this CPU runs, with the name the addon reports for each. */
function simdPaths(): { simd: string; name: string }[] {
  if (process.arch === 'arm64') return [{ simd: 'generic', name: 'NEON' }];
  if (process.arch !== 'x64') return [{ simd: 'generic', name: 'portable' }];
  const flags =
    process.platform === 'linux'
      ? new Set((/^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '').trim().split(/\s+/))
      : new Set<string>();
  const paths = [{ simd: 'generic', name: 'SSE2' }];
  if (flags.has('avx2') && flags.has('fma')) paths.push({ simd: 'avx2', name: 'AVX2' });
  if (flags.has('avx2') && flags.has('fma') && flags.has('avx512f')) paths.push({ simd: 'avx512', name: 'AVX-512' });
  return paths;
}

/** A deterministic value in [−1, 1) for index i of stream s. */
const value = (s: number, i: number) => (((i * 2654435761 + s * 40503) >>> 0) % 2001) / 1000 - 1;

/** Failures of gemm and gemv over all the shapes, as lines of text. */
function check(addon: NativeAddon): string[] {
  const heap = new ArrayBuffer(64 << 20);
  const f = new Float32Array(heap);
  const failures: string[] = [];
  const fill = (from: number, count: number, s: number) => {
    for (let i = 0; i < count; i++) f[from + i] = value(s, i);
  };
  let cases = 0;
  const gemmCase = (ta: boolean, tb: boolean, m: number, n: number, k: number, alpha: number, beta: number) => {
    const lda = (ta ? m : k) + (cases % 3),
      ldb = (tb ? k : n) + ((cases >> 1) % 2),
      ldc = n + (cases % 2) * 5;
    const rowsA = ta ? k : m,
      rowsB = tb ? n : k;
    const a = 0,
      b = a + rowsA * lda + 16,
      c = b + rowsB * ldb + 16;
    fill(a, rowsA * lda, 1 + cases);
    fill(b, rowsB * ldb, 2 + cases);
    fill(c, m * ldc, 3 + cases);
    const before = f.slice(c, c + m * ldc);
    if (beta === 0) for (let i = 0; i < m; i++) f[c + i * ldc + ((i * 7) % n)] = NaN;
    addon.gemm(heap, +ta, +tb, m, n, k, alpha, a * 4, lda, b * 4, ldb, beta, c * 4, ldc);
    cases++;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < ldc; j++) {
        const got = f[c + i * ldc + j];
        let want = before[i * ldc + j],
          scale = Math.abs(want);
        if (j < n) {
          let sum = 0,
            abs = 0;
          for (let p = 0; p < k; p++) {
            const x = f[a + (ta ? p * lda + i : i * lda + p)] * f[b + (tb ? j * ldb + p : p * ldb + j)];
            sum += x;
            abs += Math.abs(x);
          }
          want = alpha * sum + (beta === 0 ? 0 : beta * before[i * ldc + j]);
          scale = Math.abs(alpha) * abs + Math.abs(beta * before[i * ldc + j]);
        }
        if (!(Math.abs(got - want) <= 2e-7 * (k + 4) * scale + 1e-30)) {
          failures.push(`gemm ta=${ta} tb=${tb} m=${m} n=${n} k=${k} alpha=${alpha} beta=${beta} C[${i},${j}] = ${got}, want ${want}`);
          return;
        }
      }
  };
  const gemvCase = (ta: boolean, m: number, n: number, beta: number) => {
    const lda = n + (cases % 4),
      xs = ta ? m : n,
      ys = ta ? n : m;
    const a = 0,
      x = m * lda + 16,
      y = x + xs + 16;
    fill(a, m * lda, 4 + cases);
    fill(x, xs, 5 + cases);
    fill(y, ys, 6 + cases);
    const before = f.slice(y, y + ys + 1);
    if (beta === 0) f[y + (cases % ys)] = NaN;
    addon.gemv(heap, +ta, m, n, a * 4, lda, x * 4, beta, y * 4);
    cases++;
    for (let o = 0; o <= ys; o++) {
      let want = before[o],
        scale = Math.abs(want);
      if (o < ys) {
        let sum = 0,
          abs = 0;
        for (let r = 0; r < xs; r++) {
          const v = f[a + (ta ? r * lda + o : o * lda + r)] * f[x + r];
          sum += v;
          abs += Math.abs(v);
        }
        want = sum + (beta === 0 ? 0 : beta * before[o]);
        scale = abs + Math.abs(beta * before[o]);
      }
      if (!(Math.abs(f[y + o] - want) <= 2e-7 * (xs + 4) * scale + 1e-30)) {
        failures.push(`gemv ta=${ta} m=${m} n=${n} beta=${beta} y[${o}] = ${f[y + o]}, want ${want}`);
        return;
      }
    }
  };
  const small = [1, 2, 3, 5, 6, 7, 8, 12, 13, 15, 16, 17, 31, 32, 33, 47, 48, 49];
  const scalars: [number, number][] = [
    [1, 0],
    [1, 1],
    [0.7, -0.5],
    [-2, 0],
  ];
  for (const threads of [1, 2]) {
    addon.setThreads(threads);
    let s = 0;
    for (const m of small)
      for (const n of small)
        for (const k of [1, 4, 17, 64]) {
          const [alpha, beta] = scalars[s++ % scalars.length];
          gemmCase(s % 2 === 1, s % 4 >= 2, m, n, k, alpha, beta);
        }
    // Past every block (k over 384, m over 384 on AVX-512 and 192 on AVX2, n over 768) and odd
    // remainders of each.
    for (const [m, n, k] of [
      [193, 97, 300],
      [257, 129, 513],
      [64, 1100, 33],
      [3, 1030, 257],
      [300, 5, 600],
      [200, 200, 200],
      [389, 530, 391],
      [13, 800, 390],
      // A training step's products in small: k in two blocks and n in two, neither a multiple of the
      // tile, so Bᵀ is packed by whole vector squares and by the remainders' element loop.
      [130, 830, 420],
      [170, 1570, 40],
    ])
      for (const ta of [false, true])
        for (const tb of [false, true]) {
          const [alpha, beta] = scalars[s++ % scalars.length];
          gemmCase(ta, tb, m, n, k, alpha, beta);
        }
    for (const ta of [false, true]) gemmCase(ta, false, 5, 7, 0, 1, 0.5);
    for (const m of [1, 3, 4, 5, 17, 64, 65, 700])
      for (const n of [1, 3, 15, 16, 17, 63, 64, 65, 129, 700])
        for (const ta of [false, true]) gemvCase(ta, m, n, (m + n) % 3 === 0 ? 0 : (m + n) % 3 === 1 ? 1 : -0.5);
  }
  if (cases < 1000) failures.push(`only ${cases} cases ran`);
  return failures;
}

if (process.env[CHILD]) {
  const addon = (loaded as { addon: NativeAddon }).addon;
  process.stdout.write(JSON.stringify({ name: addon.info().blas, failures: check(addon) }) + '\n');
} else {
  test('by default the engine runs the widest kernels the CPU has', { skip }, () => {
    const addon = (loaded as { addon: NativeAddon }).addon;
    if (process.env.CORPUS_LAB_SIMD === undefined && (process.platform === 'linux' || process.arch !== 'x64'))
      assert.equal(addon.info().blas, `Corpus Lab GEMM (${simdPaths().pop()!.name})`);
  });
  for (const { simd, name } of simdPaths())
    test(`SGEMM and SGEMV on the ${name} kernels (CORPUS_LAB_SIMD=${simd}) match a float64 reference at every edge`, { skip }, () => {
      const r = spawnSync(process.execPath, [__filename], {
        env: { ...process.env, [CHILD]: '1', CORPUS_LAB_SIMD: simd },
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { name: string; failures: string[] };
      assert.equal(out.name, `Corpus Lab GEMM (${name})`);
      assert.deepEqual(out.failures.slice(0, 5), []);
    });
}
