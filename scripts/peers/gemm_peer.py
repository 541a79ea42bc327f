"""The peer of bench-gemm.mjs: GFLOP/s of float32 matrix products in PyTorch (torch.mm) or, without
torch, NumPy (the system BLAS: Debian's OpenBLAS), on the shapes given as JSON, warm (best of
back-to-back calls) and cold (best of 10 calls, each after reading --flush-bytes a float per cache line).

usage: gemm_peer.py --threads N [--library auto|torch|numpy] [--flush-bytes B] '[{"ta": false, "tb": true, "m": 768, "n": 384, "k": 128}, ...]'
prints one JSON line: {"library": ..., "threads": N, "gflops": {"warm": [...], "cold": [...]}}
"""
import argparse
import json
import time

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, required=True)
p.add_argument("--seconds", type=float, default=0.2)
p.add_argument("--library", choices=["auto", "torch", "numpy"], default="auto")
p.add_argument("--flush-bytes", type=int, default=32 << 20)
p.add_argument("shapes")
args = p.parse_args()

try:
    if args.library == "numpy":
        raise ImportError("NumPy asked for")
    import re

    import torch

    torch.set_num_threads(args.threads)
    blas = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    library = f"torch {torch.__version__.split('+')[0]} torch.mm ({blas.group(1) if blas else 'its BLAS'})"

    def operands(s):
        g = torch.Generator().manual_seed(0)
        a = torch.rand((s["k"], s["m"]) if s["ta"] else (s["m"], s["k"]), generator=g)
        b = torch.rand((s["n"], s["k"]) if s["tb"] else (s["k"], s["n"]), generator=g)
        a, b = (a.t() if s["ta"] else a), (b.t() if s["tb"] else b)
        out = torch.empty(s["m"], s["n"])
        return lambda: torch.mm(a, b, out=out)

    flush = torch.ones(args.flush_bytes // 4)[::16]

except ImportError:
    if args.library == "torch":
        raise
    import numpy as np

    library = f"numpy {np.__version__} (system BLAS)"

    def operands(s):
        r = np.random.default_rng(0)
        a = r.random((s["k"], s["m"]) if s["ta"] else (s["m"], s["k"]), dtype=np.float32)
        b = r.random((s["n"], s["k"]) if s["tb"] else (s["k"], s["n"]), dtype=np.float32)
        a, b = (a.T if s["ta"] else a), (b.T if s["tb"] else b)
        out = np.empty((s["m"], s["n"]), dtype=np.float32)
        return lambda: np.matmul(a, b, out=out)

    flush = np.ones(args.flush_bytes // 4, dtype=np.float32)[::16]


def best_seconds(run, cold):
    run()
    best, spent, calls = float("inf"), 0.0, 0
    while calls < 10 if cold else spent < args.seconds:
        if cold:
            flush.sum()
        t = time.perf_counter()
        run()
        dt = time.perf_counter() - t
        best, spent, calls = min(best, dt), spent + dt, calls + 1
    return best


shapes = json.loads(args.shapes)
runs = [operands(s) for s in shapes]
gflops = {
    when: [2 * s["m"] * s["n"] * s["k"] / best_seconds(run, when == "cold") / 1e9 for s, run in zip(shapes, runs)]
    for when in ("warm", "cold")
}
print(json.dumps({"library": library, "threads": args.threads, "gflops": gflops}))
