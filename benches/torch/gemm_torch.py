"""torch.matmul on the f32 products of crates/spectrans-tensor/benches/gemm.rs, 2 threads.

Same shapes, variants and JSON fields as the Rust bench (candidate "torch"):
  nn: x (rows, k) @ W (k, n)
  nt: x (rows, k) @ W.t(), W stored (n, k)       -- the Linear forward
  tn: X.t() @ G, X (rows, k), G (rows, n)        -- the Linear weight gradient
Each median is over as many runs as fit 0.25 s (5..50), after one warm-up call; the result is
written into a preallocated `out=` tensor so, like the `gemm`/`matrixmultiply` candidates, no
allocation is timed. Usage: python3 benches/torch/gemm_torch.py [--quick | --serve]
"""

import json
import os
import sys
import time

import torch

THREADS = int(os.environ.get("GEMM_BENCH_THREADS", "2"))
ROWS = [1024, 4096, 8192]
INNER_OUTER = [(64, 64), (128, 128), (256, 256), (256, 512), (512, 512), (512, 1024), (1024, 1024)]
BUDGET_S = 0.25
MIN_RUNS, MAX_RUNS = 5, 50


def median_seconds(f):
    f()
    times = []
    start = time.perf_counter()
    while len(times) < MIN_RUNS or (len(times) < MAX_RUNS and time.perf_counter() - start < BUDGET_S):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2], len(times)


def case(variant, rows, inner, outer, gen):
    x = torch.randn(rows, inner, generator=gen)
    if variant == "nn":
        return x, torch.randn(inner, outer, generator=gen) * 0.05, (rows, inner, outer)
    if variant == "nt":
        return x, (torch.randn(outer, inner, generator=gen) * 0.05).t(), (rows, inner, outer)
    return x.t(), torch.randn(rows, outer, generator=gen), (inner, rows, outer)


def bench_shape(rows, inner, outer, gen):
    for variant in ("nn", "nt", "tn"):
        a, b, (m, k, n) = case(variant, rows, inner, outer, gen)
        out = torch.empty(m, n)
        secs, runs = median_seconds(lambda: torch.matmul(a, b, out=out))
        print(json.dumps({
            "lib": "torch", "candidate": "torch", "variant": variant, "rows": rows,
            "inner": inner, "outer": outer, "m": m, "k": k, "n": n, "threads": THREADS,
            "runs": runs, "median_s": float(f"{secs:.6e}"),
            "gflops": round(2.0 * m * k * n / secs / 1e9, 2),
        }), flush=True)


def main():
    torch.set_num_threads(THREADS)
    gen = torch.Generator().manual_seed(7)
    with torch.inference_mode():
        if "--serve" in sys.argv:
            # driven by compare_gemm.py: one "rows inner outer" line in, results + "done" out
            for line in sys.stdin:
                vals = [int(t) for t in line.split()]
                if len(vals) == 3:
                    bench_shape(*vals, gen)
                print("done", flush=True)
            return
        rows_list = ROWS[:1] if "--quick" in sys.argv else ROWS
        for rows in rows_list:
            for inner, outer in INNER_OUTER:
                bench_shape(rows, inner, outer, gen)


if __name__ == "__main__":
    main()
