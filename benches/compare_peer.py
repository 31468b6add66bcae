"""Runs the Rust benchmark (`spectrans bench`) and the PyTorch peer (`bench_torch.py`) on the same
cases, alternating case by case so both see the same machine load, for several rounds, at each
thread count; keeps each side's best (minimum) median per case and prints, per thread count, a
Markdown table of times, Rust/PyTorch ratios and the peak resident memory of each process.

Usage (from the repository root, after `cargo build --release`):
    python3 benches/compare_peer.py [--threads 1,2] [--rounds 3] [--reps 5] [--peer ../shared/peer]
                                    [--simd avx2] [CASE ...]
Threads are given to both sides (RAYON_NUM_THREADS / torch.set_num_threads); `--simd` caps the
Rust side's SIMD level (SPECTRANS_SIMD). Peak memory is each process's maximum resident set
(`wait4`), so PyTorch's includes the interpreter and the torch library (see docs/benchmarks.md).
"""
import argparse, json, os, platform, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_with_rss(cmd, env):
    """As `run`, with `peak_rss_bytes` from wait4 for rows that lack it."""
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed with exit code {p.returncode}")
    rows = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    for r in rows:
        r["process_peak_rss_bytes"] = usage.ru_maxrss * 1024
    return rows


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default=os.environ.get("THREADS", "1,2"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--peer", default=os.path.join(HERE, "..", "..", "shared", "peer"))
    ap.add_argument("--binary", default=os.path.join("target", "release", "spectrans"))
    ap.add_argument("--simd", default=None, help="cap the Rust side's SIMD level (scalar, avx2, avx512)")
    ap.add_argument("cases", nargs="*")
    a = ap.parse_args()
    cases_file = os.path.join(HERE, "cases.json")
    cases = a.cases or list(json.load(open(cases_file)))
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    isa = "AVX-512" if " avx512f" in flags else "AVX2" if " avx2" in flags else "baseline"
    print(f"CPU: {cpu_name()} ({isa}), {os.cpu_count()} logical CPUs")
    raw = []
    for threads in a.threads.split(","):
        env = dict(os.environ, REPS=str(a.reps), THREADS=threads, RAYON_NUM_THREADS=threads)
        if a.simd:
            env["SPECTRANS_SIMD"] = a.simd
        best = {}
        for r in range(a.rounds):
            for c in cases:
                rust = run_with_rss([a.binary, "bench", "--cases-file", cases_file, c], env)
                torch = run_with_rss([sys.executable, os.path.join(a.peer, "bench_torch.py"), c], env)
                for row in rust + torch:
                    key = (row["case"], row["impl"])
                    b = best.setdefault(key, dict(row))
                    for f in ("forward_s", "train_step_s"):
                        b[f] = min(b[f], row[f])
                print(f"threads {threads}, round {r + 1}/{a.rounds}: {c} done", file=sys.stderr)
        simd = next((v.get("simd") for k, v in best.items() if k[1] == "rust"), "?")
        print(f"\nthreads = {threads}, Rust SIMD level {simd}, best of {a.rounds} rounds of the median of {a.reps} runs\n")
        print("| case | PyTorch forward (s) | Rust forward (s) | ratio | PyTorch train step (s) | Rust train step (s) "
              "| ratio | PyTorch peak RSS (MB) | Rust peak RSS (MB) | Rust faults / step | Rust allocs / step |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for c in cases:
            t = best.get((c, "pytorch"))
            for name in (c, c + "-causal"):
                r = best.get((name, "rust"))
                if not (r and t):
                    continue
                mb = lambda row: row["process_peak_rss_bytes"] / 1e6
                print(f"| {name} | {t['forward_s']:.4f} | {r['forward_s']:.4f} | {r['forward_s'] / t['forward_s']:.2f} "
                      f"| {t['train_step_s']:.4f} | {r['train_step_s']:.4f} | {r['train_step_s'] / t['train_step_s']:.2f} "
                      f"| {mb(t):.0f} | {mb(r):.0f} | {r.get('minor_faults_per_step')} | {r.get('allocs_per_step')} |")
        raw += [dict(v, threads=int(threads)) for v in best.values()]
    print("\nraw:", json.dumps(raw))


if __name__ == "__main__":
    main()
