"""Runs the Rust GEMM bench and gemm_torch.py side by side, interleaved shape by shape.

The machine is shared, so load changes over a run; interleaving (and alternating which side goes
first) makes every Rust/torch pair see the same conditions. Each shape is measured in ROUNDS
rounds; the reported figure per (candidate, variant, shape) is the best round's median.
Environment: ROUNDS (default 2), GEMM_ROWS (default 1024,4096,8192), GEMM_BENCH_THREADS (default 2,
passed on to both benches).

Usage (from the workspace root, after `cargo bench -p spectrans-tensor --bench gemm --no-run`):
  python3 benches/torch/compare_gemm.py OUT.jsonl RUST_BENCH_BINARY[=CANDIDATES] ...
  e.g.  target/release/deps/gemm-abc123=gemm,matrixmultiply,ours
Then prints the markdown table of GFLOP/s and ratios vs torch.
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS = [int(r) for r in os.environ.get("GEMM_ROWS", "1024,4096,8192").split(",")]
INNER_OUTER = [(64, 64), (128, 128), (256, 256), (256, 512), (512, 512), (512, 1024), (1024, 1024)]
ROUNDS = int(os.environ.get("ROUNDS", "2"))


class Server:
    def __init__(self, argv, env=None):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=env, stderr=subprocess.DEVNULL)

    def run(self, rows, inner, outer):
        self.proc.stdin.write(f"{rows} {inner} {outer}\n")
        self.proc.stdin.flush()
        out = []
        for line in self.proc.stdout:
            line = line.strip()
            if line == "done":
                return out
            if line.startswith("{"):
                out.append(json.loads(line))
        raise RuntimeError("bench process ended early")

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def main():
    out_path = sys.argv[1]
    servers = [Server([sys.executable, os.path.join(HERE, "gemm_torch.py"), "--serve"])]
    for spec in sys.argv[2:]:
        binary, _, cands = spec.partition("=")
        env = dict(os.environ)
        if cands:
            env["GEMM_BENCH_CANDIDATES"] = cands
        servers.append(Server([binary, "--serve"], env))
    best = {}
    for rows in ROWS:
        for inner, outer in INNER_OUTER:
            for r in range(ROUNDS):
                order = servers if r % 2 == 0 else servers[::-1]
                for s in order:
                    for rec in s.run(rows, inner, outer):
                        key = (rec["candidate"], rec["variant"], rows, inner, outer)
                        if key not in best or rec["median_s"] < best[key]["median_s"]:
                            best[key] = rec
            print(f"done {rows} {inner} {outer}", file=sys.stderr, flush=True)
    for s in servers:
        s.close()
    with open(out_path, "w") as f:
        for rec in best.values():
            f.write(json.dumps(rec) + "\n")
    print_table(list(best.values()))


def print_table(recs):
    cands = []
    for r in recs:
        if r["candidate"] not in cands and r["candidate"] != "torch":
            cands.append(r["candidate"])
    idx = {(r["candidate"], r["variant"], r["rows"], r["inner"], r["outer"]): r for r in recs}
    print("| variant | rows | k→n | torch | " + " | ".join(cands) + " |")
    print("|---|---|---|---:|" + "---:|" * len(cands))
    ratios = {c: [] for c in cands}
    for variant in ("nn", "nt", "tn"):
        for rows in ROWS:
            for inner, outer in INNER_OUTER:
                t = idx.get(("torch", variant, rows, inner, outer))
                if t is None:
                    continue
                cells = []
                for c in cands:
                    r = idx.get((c, variant, rows, inner, outer))
                    if r is None:
                        cells.append("–")
                        continue
                    ratio = r["gflops"] / t["gflops"]
                    ratios[c].append(ratio)
                    cells.append(f"{r['gflops']:.0f} ({ratio:.2f}×)")
                print(f"| {variant} | {rows} | {inner}→{outer} | {t['gflops']:.0f} | " + " | ".join(cells) + " |")
    print()
    # torch (OpenMP) collapses when another process takes one of the cores; the shapes where it
    # reached at least 75 % of its best rate are the ones it ran uncontended.
    torch_best = max(r["gflops"] for r in recs if r["candidate"] == "torch")
    clean = {(r["variant"], r["rows"], r["inner"], r["outer"]) for r in recs
             if r["candidate"] == "torch" and r["gflops"] >= 0.75 * torch_best}
    for c in cands:
        summarize(c, ratios[c], "all shapes")
        sub = [idx[(c,) + k]["gflops"] / idx[("torch",) + k]["gflops"] for k in sorted(clean) if (c,) + k in idx]
        summarize(c, sub, f"shapes where torch ran >= {0.75 * torch_best:.0f} GFLOP/s")


def summarize(c, ratios, what):
    v = sorted(ratios)
    if not v:
        return
    geo = 1.0
    for x in v:
        geo *= x
    geo **= 1.0 / len(v)
    print(f"- {c}, {what}: ratio vs torch geomean {geo:.2f}, min {v[0]:.2f}, median {v[len(v) // 2]:.2f}, "
          f"max {v[-1]:.2f}, >= 0.8x on {sum(x >= 0.8 for x in v)}/{len(v)}")

if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--table":
        print_table([json.loads(l) for l in open(sys.argv[2])])
    else:
        main()
