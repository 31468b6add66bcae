"""Reads the JSON lines of rfft_axis (Rust) and rfft_axis_torch.py (torch), possibly several
rounds of each, from stdin and prints a markdown table: per shape the median over rounds of each
side's median time, the best round of each, and the Rust/torch ratios.

    for i in 1 2 3; do
      THREADS=2 cargo bench -q -p spectrans-transforms --bench rfft_axis
      THREADS=2 python3 crates/spectrans-transforms/benches/torch/rfft_axis_torch.py
    done | python3 crates/spectrans-transforms/benches/torch/compare.py
"""
import json
import statistics
import sys

rows = {}
for line in sys.stdin:
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    key = (r["case"], r["batch"], r["seq"], r["hidden"])
    rows.setdefault(key, {}).setdefault(r["impl"], []).append(r["median_s"])

print("| case | (B, N, D) | Rust ms (median / best) | torch ms (median / best) | ratio median | ratio best |")
print("|---|---|---|---|---|---|")
for (case, b, n, d), v in rows.items():
    if "rust" not in v or "torch" not in v:
        continue
    rm, rb = statistics.median(v["rust"]), min(v["rust"])
    tm, tb = statistics.median(v["torch"]), min(v["torch"])
    print(f"| {case} | ({b}, {n}, {d}) | {rm * 1e3:.3f} / {rb * 1e3:.3f} | {tm * 1e3:.3f} / {tb * 1e3:.3f} | {rm / tm:.2f} | {rb / tb:.2f} |")
