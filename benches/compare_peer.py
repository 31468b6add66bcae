"""Runs the Rust benchmark (`spectrans bench`) and the PyTorch peer (`bench_torch.py`) on the same
cases, alternating case by case so both see the same machine load, for several rounds; keeps each
side's best (minimum) median per case and prints a Markdown table of times and Rust/PyTorch ratios.

Usage (from the repository root, after `cargo build --release`):
    python3 benches/compare_peer.py [--rounds 3] [--reps 5] [--peer ../shared/peer] [CASE ...]
Threads: THREADS (default 2) is given to both sides (RAYON_NUM_THREADS / torch.set_num_threads).
"""
import argparse, json, os, subprocess, sys

def run(cmd, env):
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--peer", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "peer"))
    ap.add_argument("--binary", default=os.path.join("target", "release", "spectrans"))
    ap.add_argument("cases", nargs="*")
    a = ap.parse_args()
    threads = os.environ.get("THREADS", "2")
    cases = a.cases or list(json.load(open(os.path.join(os.path.dirname(__file__), "cases.json"))))
    env = dict(os.environ, REPS=str(a.reps), THREADS=threads, RAYON_NUM_THREADS=threads)
    best = {}
    for r in range(a.rounds):
        for c in cases:
            for row in run([a.binary, "bench", c], env) + run([sys.executable, os.path.join(a.peer, "bench_torch.py"), c], env):
                key = (row["case"], row["impl"])
                b = best.setdefault(key, dict(row))
                for f in ("forward_s", "train_step_s"):
                    b[f] = min(b[f], row[f])
            print(f"round {r + 1}/{a.rounds}: {c} done", file=sys.stderr)
    print(f"threads = {threads}, best of {a.rounds} rounds of the median of {a.reps} runs\n")
    print("| case | PyTorch forward (s) | Rust forward (s) | ratio | PyTorch train step (s) | Rust train step (s) | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for c in cases:
        t = best.get((c, "pytorch"))
        for name in (c, c + "-causal"):
            r = best.get((name, "rust"))
            if not (r and t):
                continue
            print(f"| {name} | {t['forward_s']:.4f} | {r['forward_s']:.4f} | {r['forward_s'] / t['forward_s']:.2f} "
                  f"| {t['train_step_s']:.4f} | {r['train_step_s']:.4f} | {r['train_step_s'] / t['train_step_s']:.2f} |")
    print("\nraw:", json.dumps([dict(v) for v in best.values()]))

if __name__ == "__main__":
    main()
