/**
 * The fused kernels both engines have: the AssemblyScript module (kernels/assembly) exports these, and
 * the native addon the same functions with the heap first (native.ts derives its form with OnHeap).
 * Arguments are byte offsets into the wasm backend's heap, then sizes and scalars.
 */
export interface KernelExports {
  attentionForward(qkv: number, out: number, probs: number, b: number, t: number, h: number, d: number, scratch: number): void;
  attentionBackward(
    qkv: number,
    probs: number,
    dOut: number,
    dQkv: number,
    b: number,
    t: number,
    h: number,
    d: number,
    scratch: number,
  ): void;
  geluForward(x: number, y: number, n: number): void;
  geluBackward(x: number, dy: number, dx: number, n: number): void;
  layerNormForward(x: number, w: number, b: number, y: number, mean: number, rstd: number, rows: number, cols: number, eps: number): void;
  layerNormBackward(
    x: number,
    w: number,
    mean: number,
    rstd: number,
    dy: number,
    dx: number,
    dw: number,
    db: number,
    rows: number,
    cols: number,
  ): void;
  adamwUpdate(
    p: number,
    g: number,
    m: number,
    v: number,
    pOut: number,
    mOut: number,
    vOut: number,
    n: number,
    lr: number,
    beta1: number,
    oneMinusBeta1: number,
    beta2: number,
    oneMinusBeta2: number,
    c1: number,
    c2: number,
    eps: number,
    keep: number,
    gradScale: number,
  ): void;
  columnSums(x: number, out: number, rows: number, cols: number): void;
  transpose2d(src: number, dst: number, rows: number, cols: number): void;
  expArray(x: number, y: number, n: number): void;
}

/** Every function of KernelExports by name (a type has no names at run time). */
export const KERNEL_NAMES: (keyof KernelExports)[] = [
  'attentionForward',
  'attentionBackward',
  'geluForward',
  'geluBackward',
  'layerNormForward',
  'layerNormBackward',
  'adamwUpdate',
  'columnSums',
  'transpose2d',
  'expArray',
];
