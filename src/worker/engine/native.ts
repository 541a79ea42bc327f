import * as tf from '@tensorflow/tfjs-core';
import { existsSync, openSync, readSync, closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { KERNEL_NAMES, type KernelExports } from './kernels/kernel-exports';

// The native engine: our N-API addon (native/, binding.gyp) runs its own matmuls (native/gemm*.cc) and fused kernels
// on tensors where the tfjs wasm backend keeps them, so the wasm backend stays the memory
// manager and every kernel gets its heap (re-read on each call: growing it replaces the buffer)
// plus byte offsets.

type Heap = ArrayBuffer;
/**
 * A Llama-family block's shape: batch, time, heads, key/value heads, head size, width, MLP width,
 * eps, q/k/v biases (1/0), q/k norms (1/0), LoRA rank (0: none), LoRA scale, BF16 base (1/0).
 */
type LlamaBlockShape = [number, number, number, number, number, number, number, number, number, number, number, number, number];

/** A kernel module's functions as the addon has them: the wasm backend's heap first, then the same arguments. */
type OnHeap<Kernels> = {
  [Name in keyof Kernels]: Kernels[Name] extends (...args: infer Args) => infer Result ? (heap: Heap, ...args: Args) => Result : never;
};

/** The addon: the kernels of the AssemblyScript module (on the heap), plus matmuls and kernels only it has. */
export interface NativeAddon extends OnHeap<KernelExports> {
  gemm(
    heap: Heap,
    ta: number,
    tb: number,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: number,
    lda: number,
    b: number,
    ldb: number,
    beta: number,
    c: number,
    ldc: number,
  ): void;
  /** y = op(A)·x + beta·y for A [m, n] (lda ≥ n): y [n] = Aᵀx with transA, else y [m] = A·x. */
  gemv(heap: Heap, transA: number, m: number, n: number, a: number, lda: number, x: number, beta: number, y: number): void;
  gemmBatched(
    heap: Heap,
    count: number,
    ta: number,
    tb: number,
    m: number,
    n: number,
    k: number,
    a: number,
    strideA: number,
    b: number,
    strideB: number,
    c: number,
    strideC: number,
  ): void;
  linearForward(heap: Heap, x: number, w: number, bias: number, y: number, n: number, inputs: number, outputs: number): void;
  linearBackward(
    heap: Heap,
    x: number,
    w: number,
    dy: number,
    dx: number,
    dw: number,
    db: number,
    n: number,
    inputs: number,
    outputs: number,
  ): void;
  crossEntropyForward(heap: Heap, logits: number, targets: number, lse: number, loss: number, n: number, vocab: number): void;
  crossEntropyBackward(
    heap: Heap,
    logits: number,
    targets: number,
    lse: number,
    dLoss: number,
    dLogits: number,
    n: number,
    vocab: number,
  ): void;
  embeddingForward(heap: Heap, table: number, ids: number, out: number, n: number, vocab: number, c: number): void;
  embeddingBackward(heap: Heap, ids: number, dy: number, dTable: number, n: number, vocab: number, c: number): void;
  /** dTable += the scatter of dy by ids, in place. */
  embeddingBackwardAdd(heap: Heap, ids: number, dy: number, dTable: number, n: number, vocab: number, c: number): void;
  rmsNormForward(heap: Heap, x: number, w: number, y: number, rstd: number, rows: number, cols: number, eps: number): void;
  rmsNormBackward(heap: Heap, x: number, w: number, rstd: number, dy: number, dx: number, dw: number, rows: number, cols: number): void;
  /** Rotary positions on rows of x [rows, 2·half], row r at position (r / inner) % t; `inverse` 1 rotates back (native/kernels.h). */
  rotary(
    heap: Heap,
    x: number,
    cos: number,
    sin: number,
    y: number,
    rows: number,
    t: number,
    inner: number,
    half: number,
    inverse: number,
  ): void;
  swigluForward(heap: Heap, gate: number, up: number, y: number, n: number): void;
  swigluBackward(heap: Heap, gate: number, up: number, dy: number, dGate: number, dUp: number, n: number): void;
  groupedAttentionForward(
    heap: Heap,
    q: number,
    k: number,
    v: number,
    out: number,
    probs: number,
    b: number,
    t: number,
    h: number,
    kv: number,
    d: number,
  ): void;
  groupedAttentionBackward(
    heap: Heap,
    q: number,
    k: number,
    v: number,
    probs: number,
    dOut: number,
    dq: number,
    dk: number,
    dv: number,
    b: number,
    t: number,
    h: number,
    kv: number,
    d: number,
  ): void;
  sumSquares(heap: Heap, x: number, n: number): number;
  /** One generation step of a whole model (kernels/decode.ts). */
  decode(
    heap: Heap,
    cache: ArrayBuffer,
    weights: Float64Array,
    ids: Int32Array,
    start: number,
    logits: number,
    layers: number,
    heads: number,
    width: number,
    context: number,
    vocab: number,
    dyt: number,
  ): void;
  /** One generation step of a Llama-family model (kernels/llama-decode.ts). */
  decodeLlama(
    heap: Heap,
    cache: ArrayBuffer,
    weights: Float64Array,
    inverseFrequencies: Float64Array,
    ids: Int32Array,
    start: number,
    logits: number,
    layers: number,
    heads: number,
    kvHeads: number,
    headDim: number,
    width: number,
    mlpWidth: number,
    context: number,
    vocab: number,
    eps: number,
    bf16: number,
  ): void;
  /** y = x·Wᵀ for x [n, inputs] and W [outputs, inputs] in BF16 (kernels/bf16-matrix.ts). */
  bf16MatMulTransposedB(heap: Heap, x: number, w: number, y: number, n: number, inputs: number, outputs: number): void;
  /** dx = dy·W for dy [n, outputs] and W [outputs, inputs] in BF16. */
  bf16MatMul(heap: Heap, dy: number, w: number, dx: number, n: number, inputs: number, outputs: number): void;
  /** Rows `ids` of a BF16 table [vocab, c], widened. */
  bf16Embedding(heap: Heap, table: number, ids: number, out: number, n: number, vocab: number, c: number): void;
  /** The head's mean cross-entropy and (offsets ≥ 0) its gradients dx, dW in one call (kernels/linear-cross-entropy.ts). */
  linearCrossEntropy(
    heap: Heap,
    x: number,
    w: number,
    wIsBf16: number,
    targets: number,
    loss: number,
    dx: number,
    dW: number,
    n: number,
    width: number,
    vocab: number,
    maxRows: number,
  ): void;
  /** A GPT-2 block's training forward pass in one call (native/gpt2-block.h); offsets: x, the 12 weights, y, saved. */
  gpt2BlockForward(heap: Heap, offsets: Float64Array, b: number, t: number, h: number, c: number, eps: number): void;
  /** Its backward pass; offsets: x, the 12 weights, saved, dy, dx, the 12 weights' gradients. */
  gpt2BlockBackward(heap: Heap, offsets: Float64Array, b: number, t: number, h: number, c: number, eps: number): void;
  /**
   * A Llama-family block's training forward pass in one call (native/llama-block.h); offsets: x, the
   * 14 weights (absent ones -1), cos, sin, y, saved, the 7 adapters' A and B (absent ones -1).
   */
  llamaBlockForward(heap: Heap, offsets: Float64Array, ...shape: LlamaBlockShape): void;
  /** The floats its forward pass keeps for the backward one, with `adapted` projections' adapters. */
  llamaBlockSavedFloats(heap: Heap, adapted: number, ...shape: LlamaBlockShape): number;
  /**
   * Its backward pass; offsets: x, the 14 weights, cos, sin, saved, dy, dx, the 14 weights'
   * gradients (without LoRA), the 7 adapters' A and B, their gradients (absent ones -1).
   */
  llamaBlockBackward(heap: Heap, offsets: Float64Array, ...shape: LlamaBlockShape): void;
  /** Σ x² over the arrays at `offsets` of `sizes` floats (each array's sum as sumSquares forms it, added in order). */
  sumSquaresAll(heap: Heap, offsets: Float64Array, sizes: Float64Array): number;
  /** adamwUpdate in place on every parameter: offsets p, g, m, v of each; its weight kept ×keep[i] (decay). */
  adamwAll(
    heap: Heap,
    offsets: Float64Array,
    sizes: Float64Array,
    keep: Float64Array,
    lr: number,
    beta1: number,
    oneMinusBeta1: number,
    beta2: number,
    oneMinusBeta2: number,
    c1: number,
    c2: number,
    eps: number,
    gradScale: number,
  ): void;
  setThreads(n: number): number;
  info(): { blas: string; threads: number };
}

export const ADDON_FILE = 'corpus_lab_native.node';

/** Every function this version calls: a build from an older checkout lacks some. */
const ADDON_FUNCTIONS: (keyof NativeAddon)[] = [
  ...KERNEL_NAMES,
  'gemm',
  'gemmBatched',
  'linearForward',
  'linearBackward',
  'crossEntropyForward',
  'crossEntropyBackward',
  'embeddingForward',
  'embeddingBackward',
  'embeddingBackwardAdd',
  'rmsNormForward',
  'rmsNormBackward',
  'rotary',
  'swigluForward',
  'swigluBackward',
  'groupedAttentionForward',
  'groupedAttentionBackward',
  'sumSquares',
  'decode',
  'decodeLlama',
  'bf16MatMulTransposedB',
  'bf16MatMul',
  'bf16Embedding',
  'linearCrossEntropy',
  'gpt2BlockForward',
  'gpt2BlockBackward',
  'llamaBlockSavedFloats',
  'llamaBlockForward',
  'llamaBlockBackward',
  'sumSquaresAll',
  'adamwAll',
  'setThreads',
  'info',
];

let active: NativeAddon | undefined;

/** The addon when the native engine is the one running, else undefined. */
export function nativeAddon(): NativeAddon | undefined {
  return active;
}

/** Where the addon is looked for: CORPUS_LAB_NATIVE_ADDON, next to the bundle (dist/), or a build in the repository (unit tests). */
export function addonPath(): string {
  if (process.env.CORPUS_LAB_NATIVE_ADDON) return process.env.CORPUS_LAB_NATIVE_ADDON;
  const beside = join(__dirname, ADDON_FILE);
  if (existsSync(beside)) return beside;
  for (let dir = __dirname, i = 0; i < 4; i++, dir = dirname(dir)) {
    for (const p of [join(dir, 'build/Release', ADDON_FILE), join(dir, 'dist', ADDON_FILE)]) if (existsSync(p)) return p;
  }
  return beside;
}

/** A clone of the repository (it can build the addon), not an installed package (it cannot). */
function inSourceCheckout(): boolean {
  for (let dir = __dirname, i = 0; i < 4; i++, dir = dirname(dir)) if (existsSync(join(dir, 'binding.gyp'))) return true;
  return false;
}

/** Loads the addon at `path`; a reason for the log when it cannot be used here. */
export function loadAddon(path = addonPath()): { addon: NativeAddon } | { why: string } {
  if (!existsSync(path))
    return {
      why: inSourceCheckout()
        ? `the native addon is not built (${path} missing; apt-get install build-essential && npm run build:native)`
        : `this package has no native addon (the universal .vsix): on Linux x64, install Corpus Lab's linux-x64 package, which has it`,
    };
  const arch = binaryArch(path);
  if (arch && arch !== process.arch)
    return { why: `the native addon was built for ${arch}, this machine is ${process.arch} (npm run build:native rebuilds it)` };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const addon = require(path) as NativeAddon;
    if (typeof addon.gemm !== 'function' || typeof addon.info !== 'function') return { why: `${path} is not Corpus Lab's native addon` };
    const missing = ADDON_FUNCTIONS.filter((name) => typeof addon[name] !== 'function');
    if (missing.length > 0)
      return { why: `the native addon is older than this Corpus Lab (no ${missing.join(', ')}; npm run build:native rebuilds it)` };
    return { addon };
  } catch (e) {
    return { why: `the native addon failed to load: ${(e as Error).message.split('\n')[0]}` };
  }
}

/** The CPU a shared library is for, from its ELF or Mach-O header; undefined when unknown. */
function binaryArch(path: string): string | undefined {
  const head = Buffer.alloc(20);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 20, 0);
  } finally {
    closeSync(fd);
  }
  if (head.readUInt32BE(0) === 0x7f454c46) {
    const machine = head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18);
    return ({ 62: 'x64', 183: 'arm64', 3: 'ia32', 40: 'arm' } as Record<number, string>)[machine] ?? `ELF machine ${machine}`;
  }
  if (head.readUInt32LE(0) === 0xfeedfacf)
    return ({ 0x01000007: 'x64', 0x0100000c: 'arm64' } as Record<number, string>)[head.readUInt32LE(4)];
  return undefined;
}

/** Turns the native engine on (the wasm backend must be the current one) or off. */
export function setNative(addon: NativeAddon | undefined, threads?: number): void {
  active = addon;
  if (addon) {
    if (threads !== undefined) addon.setThreads(threads);
    routeMatMulsToNative();
  }
}

// ---- the wasm backend's BatchMatMul and _FusedMatMul, answered by BLAS while native is on ----

interface WasmBackend {
  dataIdMap: { get(id: object): { memoryOffset: number } | undefined };
  wasm: { asm: { memory: { buffer: ArrayBuffer } } };
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
}

interface MatMulArgs {
  inputs: { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo; preluActivationWeights?: tf.TensorInfo };
  attrs: { transposeA: boolean; transposeB: boolean; activation?: string };
  backend: WasmBackend;
}

const routed = Symbol('corpus-lab native matmul');

function routeMatMulsToNative(): void {
  for (const kernelName of ['BatchMatMul', '_FusedMatMul']) {
    const stock = tf.getKernel(kernelName, 'wasm');
    if (!stock || (stock.kernelFunc as unknown as Record<symbol, boolean>)[routed]) continue;
    const kernelFunc = ((args: MatMulArgs) => (active && nativeMatMul(active, args)) || stock.kernelFunc(args as never)) as tf.KernelFunc;
    (kernelFunc as unknown as Record<symbol, boolean>)[routed] = true;
    tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel({ ...stock, kernelFunc });
  }
}

const product = (xs: number[]) => xs.reduce((p, x) => p * x, 1);

/** The product on BLAS, or undefined for what it does not handle (then the stock kernel runs). */
function nativeMatMul(addon: NativeAddon, { inputs, attrs, backend }: MatMulArgs): tf.TensorInfo | undefined {
  const { a, b, bias, preluActivationWeights } = inputs;
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || preluActivationWeights) return undefined;
  if (attrs.activation !== undefined && attrs.activation !== 'linear') return undefined;
  const ta = attrs.transposeA,
    tb = attrs.transposeB;
  const ra = a.shape.length,
    rb = b.shape.length;
  const m = ta ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = ta ? a.shape[ra - 2] : a.shape[ra - 1];
  const n = tb ? b.shape[rb - 2] : b.shape[rb - 1];
  const batchA = product(a.shape.slice(0, -2));
  const batchB = product(b.shape.slice(0, -2));
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return undefined;
  if (k === 0 || (bias && (product(bias.shape) !== n || bias.dtype !== 'float32'))) return undefined;
  const count = Math.max(batchA, batchB);
  if (bias && count > 1) return undefined;
  const batchShape = (batchA >= batchB ? a : b).shape.slice(0, -2);
  const out = backend.makeOutput([...batchShape, m, n], 'float32');
  if (m * n === 0) return out;
  const at = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset;
  const heap = backend.wasm.asm.memory.buffer;
  if (count === 1) {
    if (bias) {
      const rows = new Float32Array(heap, at(out), m * n);
      const row = new Float32Array(heap, at(bias), n);
      for (let i = 0; i < m; i++) rows.set(row, i * n);
    }
    addon.gemm(heap, +ta, +tb, m, n, k, 1, at(a), ta ? m : k, at(b), tb ? k : n, bias ? 1 : 0, at(out), n);
  } else {
    addon.gemmBatched(heap, count, +ta, +tb, m, n, k, at(a), batchA === 1 ? 0 : m * k, at(b), batchB === 1 ? 0 : k * n, at(out), m * n);
  }
  return out;
}
