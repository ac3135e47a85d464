#!/usr/bin/env python3
"""Python `carematch.link` from Arrow data against the CLI on the same files, side by side.

Usage (after `pip install ./ffi/python pyarrow polars` in the running interpreter's
environment, and `cargo build --release`):

    python3 benches/python_vs_cli.py --left gp.csv --right hospital.csv [--runs 3]
        [--carematch target/release/carematch] [--kinds pyarrow,polars]

Each run, in turn: the CLI (`carematch link --left L --right R --out tmp.csv`, whole process),
then for each kind a fresh Python process that reads the two files into tables of strings
(pyarrow's CSV reader; polars from those tables), then times `carematch.link(left, right)`,
which trains a model and links as the CLI does, and returns the pairs as a DataFrame.
Printed: per kind the median link time and its ratio to the CLI's median wall time, the
process's peak RSS (from wait4) and the peak RSS before the link (the tables), and the pair
counts, which must agree.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import resource, sys, time
import pyarrow as pa, pyarrow.csv as pc
import carematch
kind, left, right = sys.argv[1:4]
def read(path):
    names = pc.read_csv(path, read_options=pc.ReadOptions(skip_rows_after_names=2**31 - 1)).column_names
    t = pc.read_csv(path, convert_options=pc.ConvertOptions(column_types={n: pa.string() for n in names}))
    if kind == "polars":
        import polars as pl
        return pl.from_arrow(t)
    return t
l, r = read(left), read(right)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
pairs = carematch.link(l, r)
secs = time.perf_counter() - t0
print(secs, len(pairs), before)
"""


def run(cmd):
    """Runs `cmd`; returns (wall seconds, peak RSS in KiB, stdout)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        sys.exit(f"failed: {' '.join(cmd)}")
    return wall, usage.ru_maxrss, out.decode()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--left", required=True)
    ap.add_argument("--right", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--carematch", default="target/release/carematch")
    ap.add_argument("--kinds", default="pyarrow,polars")
    a = ap.parse_args()
    kinds = a.kinds.split(",")
    cli, py = [], {k: [] for k in kinds}
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "pairs.csv")
        for _ in range(a.runs):
            wall, rss, _ = run([a.carematch, "link", "--left", a.left, "--right", a.right,
                                "--out", out])
            with open(out) as f:
                n = sum(1 for _ in f) - 1
            cli.append((wall, rss, n))
            for k in kinds:
                _, rss, text = run([sys.executable, "-c", CHILD, k, a.left, a.right])
                secs, pairs, before = text.split()
                py[k].append((float(secs), rss, int(pairs), int(before)))
    cli_wall = statistics.median(w for w, _, _ in cli)
    cli_rss = statistics.median(r for _, r, _ in cli) / 1024
    print(f"CLI: wall {cli_wall:.2f} s (median of {a.runs}), peak RSS {cli_rss:.0f} MiB, "
          f"{cli[0][2]} pairs")
    for k in kinds:
        secs = statistics.median(s for s, _, _, _ in py[k])
        rss = statistics.median(r for _, r, _, _ in py[k]) / 1024
        before = statistics.median(b for _, _, _, b in py[k]) / 1024
        print(f"python from {k}: link {secs:.2f} s (median of {a.runs}), ratio to the CLI's "
              f"wall {secs / cli_wall:.3f}; peak RSS {rss:.0f} MiB, {before:.0f} MiB before the "
              f"link (interpreter and tables); {py[k][0][2]} pairs")
        if py[k][0][2] != cli[0][2]:
            print(f"  pair counts differ: python {py[k][0][2]}, CLI {cli[0][2]}")


if __name__ == "__main__":
    main()
