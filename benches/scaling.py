"""Per-token forward time and peak memory of an FNO encoder (D = 64, 2 layers, 64 modes, batch 1)
from N = 1 024 to 262 144 tokens: runs `spectrans bench --cases-file benches/scaling.json CASE`
once per case (a fresh process each, so each peak RSS is that case's), prints a Markdown table and
writes `docs/img/scaling.svg` (per-token time and peak RSS per token against N, log-x).

Each case runs in `--rounds` passes over all cases (interleaved, so a burst of load on a shared
machine hits one round of a case, not all of them); the best round's median is kept.

Usage (after `cargo build --release`): python3 benches/scaling.py [--reps 5] [--rounds 3] [--out docs/img/scaling.svg]
Threads: THREADS (default 2) -> RAYON_NUM_THREADS.
"""
import argparse, json, math, os, subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def svg(points, path, title):
    """A two-panel line plot (µs per token; KiB of peak RSS per token) against log2 N, as SVG text."""
    w, h, pad = 720, 300, 60
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{2 * h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{2 * h}" fill="white"/>',
           f'<text x="{w / 2}" y="18" text-anchor="middle" font-size="14">{title}</text>']
    ns = [p[0] for p in points]
    lx = [math.log2(n) for n in ns]
    for panel, (key, label) in enumerate([(1, "forward time per token (µs)"), (2, "peak RSS per token (KiB)")]):
        ys = [p[key] for p in points]
        top, y0 = panel * h + 30, panel * h + h - 40
        ymax = max(ys) * 1.15
        sx = lambda v: pad + (v - lx[0]) / (lx[-1] - lx[0]) * (w - 2 * pad)
        sy = lambda v: y0 - v / ymax * (y0 - top)
        out.append(f'<line x1="{pad}" y1="{y0}" x2="{w - pad}" y2="{y0}" stroke="black"/>')
        out.append(f'<line x1="{pad}" y1="{top}" x2="{pad}" y2="{y0}" stroke="black"/>')
        out.append(f'<text x="{pad - 45}" y="{(top + y0) / 2}" transform="rotate(-90 {pad - 45} {(top + y0) / 2})" text-anchor="middle">{label}</text>')
        for t in range(5):
            v = ymax * t / 4
            out.append(f'<text x="{pad - 5}" y="{sy(v) + 4}" text-anchor="end">{v:.3g}</text>')
        for n, x in zip(ns, lx):
            out.append(f'<text x="{sx(x)}" y="{y0 + 16}" text-anchor="middle">{n}</text>')
        out.append(f'<text x="{w / 2}" y="{y0 + 32}" text-anchor="middle">sequence length N</text>')
        pts = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in zip(lx, ys))
        out.append(f'<polyline points="{pts}" fill="none" stroke="#1f77b4" stroke-width="2"/>')
        for x, y in zip(lx, ys):
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="#1f77b4"/>')
            out.append(f'<text x="{sx(x):.1f}" y="{sy(y) - 8:.1f}" text-anchor="middle">{y:.3g}</text>')
    out.append("</svg>")
    open(path, "w").write("\n".join(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--binary", default=os.path.join("target", "release", "spectrans"))
    ap.add_argument("--out", default=os.path.join("docs", "img", "scaling.svg"))
    a = ap.parse_args()
    cases_file = os.path.join(HERE, "scaling.json")
    cases = json.load(open(cases_file))
    threads = os.environ.get("THREADS", "2")
    env = dict(os.environ, REPS=str(a.reps), RAYON_NUM_THREADS=threads)
    rows = {}
    for _ in range(a.rounds):
        for name in cases:
            out = subprocess.run([a.binary, "bench", "--only", "forward", "--cases-file", cases_file, name], env=env,
                                 capture_output=True, text=True, check=True).stdout
            row = json.loads(next(l for l in out.splitlines() if l.startswith("{")))
            if name not in rows or row["forward_s"] < rows[name]["forward_s"]:
                rows[name] = row
    points = []
    print(f"threads = {threads}, best of {a.rounds} rounds of the median of {a.reps} runs\n")
    print("| N | forward (s) | µs / token | peak RSS (MB) | KiB / token |\n|---:|---:|---:|---:|---:|")
    for name, c in cases.items():
        row, n = rows[name], c["seq"]
        us, kib = row["forward_s"] / n * 1e6, row["peak_rss_bytes"] / n / 1024
        points.append((n, us, kib))
        print(f"| {n} | {row['forward_s']:.4f} | {us:.2f} | {row['peak_rss_bytes'] / 1e6:.0f} | {kib:.1f} |", flush=True)
    best = min(p[1] for p in points)
    print(f"\nworst / best per-token time: {max(p[1] for p in points) / best:.2f}")
    svg(points, a.out, f"FNO encoder D=64, 2 layers, 64 modes, batch 1, {threads} threads")


if __name__ == "__main__":
    main()
