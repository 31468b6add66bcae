"""torch.fft counterpart of benches/rfft_axis.rs: rfft(dim=1) + irfft(dim=1, n=N) of (B, N, D)
float32 tensors for the shapes of the peer cases; one JSON line per shape with the median time.

Run: THREADS=2 python3 crates/spectrans-transforms/benches/torch/rfft_axis_torch.py
"""
import json
import os
import time

import torch

BUILTIN = {
    "enc-small": {"batch": 8, "seq": 256, "hidden": 128},
    "enc-base": {"batch": 8, "seq": 1024, "hidden": 256},
    "cls-seed": {"batch": 32, "seq": 100, "hidden": 512},
    "dec-lm": {"batch": 8, "seq": 512, "hidden": 256},
    "enc-long": {"batch": 1, "seq": 16384, "hidden": 64},
}


def cases():
    path = os.environ.get("SPECTRANS_CASES", "/work/shared/peer/cases.json")
    try:
        with open(path) as f:
            return json.load(f)
    except OSError:
        return BUILTIN


def main():
    threads = int(os.environ.get("THREADS", "2"))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, c in cases().items():
            b, n, d = c["batch"], c["seq"], c["hidden"]
            x = torch.randn(b, n, d, dtype=torch.float32)

            def run():
                spec = torch.fft.rfft(x, dim=1)
                return torch.fft.irfft(spec, n=n, dim=1)

            for _ in range(3):
                run()
            times = []
            start = time.perf_counter()
            while len(times) < 10 or (len(times) < 50 and time.perf_counter() - start < 2.0):
                t = time.perf_counter()
                run()
                times.append(time.perf_counter() - t)
            times.sort()
            print(json.dumps({"impl": "torch", "case": name, "batch": b, "seq": n, "hidden": d,
                              "threads": threads, "reps": len(times), "median_s": float("%.6e" % times[len(times) // 2])}))


if __name__ == "__main__":
    main()
