#!/usr/bin/env python3
"""The CLI on Parquet inputs and outputs against the same data as CSV, side by side.

Usage (with pyarrow in the running interpreter's environment, after `cargo build --release`):

    python3 benches/parquet_vs_csv.py --left gp.csv --right hospital.csv [--runs 3]
        [--binary target/release/carematch] [--workdir DIR]

First converts each CSV to Parquet with pyarrow (every column read as a string, an empty field
as null and nothing else, which carematch treats as empty; Snappy compression) and prints both files' sizes.
Then, after one warm-up of each, runs alternately (A B A B ...) `--runs` times each:
  A: carematch link --left L.parquet --right R.parquet --out pairs.parquet --clusters clusters.parquet
  B: carematch link --left L.csv --right R.csv --out pairs.csv --clusters clusters.csv
timing each whole process. Printed: per command the median wall time and median peak RSS
(from wait4), and the median of the paired ratios A/B of wall time (run i of A against run i
of B). Last, the Parquet pairs file must hold the same (left_id, right_id, decision) rows in
the same order as the CSV pairs file: "outputs agree", or a message and exit status 1.
The working files (Parquet inputs, outputs, stderr logs) go in --workdir, else a temporary
directory that is removed at the end.
"""

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import pyarrow as pa
import pyarrow.csv as pc
import pyarrow.parquet as pq

REPO = pathlib.Path(__file__).resolve().parent.parent


def read_strings(path, strings_can_be_null):
    """Reads the CSV at `path` with every column as a string."""
    names = pc.read_csv(path, read_options=pc.ReadOptions(skip_rows_after_names=2**31 - 1)).column_names
    return pc.read_csv(path, convert_options=pc.ConvertOptions(
        column_types={n: pa.string() for n in names}, strings_can_be_null=strings_can_be_null,
        # Only an empty field is null: pyarrow's default list ("NA", "NULL", "None", "-",
        # ...) would turn such names and placeholders into nulls, and the inputs would differ.
        null_values=[""]))


def run(cmd, log):
    """Runs `cmd` with stderr to the file `log`; returns (wall seconds, peak RSS in KiB)."""
    with open(log, "wb") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
    if status != 0:
        tail = pathlib.Path(log).read_text(errors="replace")[-2000:]
        sys.exit(f"failed ({os.waitstatus_to_exitcode(status)}): {' '.join(cmd)}\n{tail}")
    return wall, usage.ru_maxrss


def mib(n):
    return n / (1024 * 1024)


def check(pairs_parquet, pairs_csv):
    """Exits non-zero unless the two pairs files hold the same (left_id, right_id, decision) rows
    in the same order."""
    cols = ["left_id", "right_id", "decision"]
    a = pq.read_table(pairs_parquet)
    b = read_strings(pairs_csv, strings_can_be_null=False)
    if a.num_rows != b.num_rows:
        sys.exit(f"outputs differ: {a.num_rows} rows in {pairs_parquet}, {b.num_rows} in {pairs_csv}")
    for c in cols:
        for t, p in ((a, pairs_parquet), (b, pairs_csv)):
            if c not in t.column_names:
                sys.exit(f"outputs differ: no column {c} in {p} (columns: {t.column_names})")
        x = a.column(c).cast(pa.string()).fill_null("").to_pylist()
        y = b.column(c).fill_null("").to_pylist()
        if x != y:
            i = next(i for i, (u, v) in enumerate(zip(x, y)) if u != v)
            sys.exit(f"outputs differ: column {c}, row {i}: {x[i]!r} in Parquet, {y[i]!r} in CSV")
    print(f"outputs agree: {a.num_rows} pairs, same (left_id, right_id, decision) in the same order")


def bench(a, d):
    # Named as the CSVs are (carematch names each source by its file name, in the clusters).
    left_pq = d / (pathlib.Path(a.left).stem + ".parquet")
    right_pq = d / (pathlib.Path(a.right).stem + ".parquet")
    if left_pq == right_pq:
        left_pq, right_pq = d / ("left_" + left_pq.name), d / ("right_" + right_pq.name)
    for src, dst in ((a.left, left_pq), (a.right, right_pq)):
        pq.write_table(read_strings(src, strings_can_be_null=True), dst, compression="snappy")
        print(f"{src}: CSV {mib(os.path.getsize(src)):.1f} MiB, "
              f"Parquet {mib(os.path.getsize(dst)):.1f} MiB")
    cmds = {
        "A parquet": [a.binary, "link", "--left", str(left_pq), "--right", str(right_pq),
                      "--out", str(d / "pairs.parquet"), "--clusters", str(d / "clusters.parquet")],
        "B csv": [a.binary, "link", "--left", a.left, "--right", a.right,
                  "--out", str(d / "pairs.csv"), "--clusters", str(d / "clusters.csv")],
    }
    res = {k: [] for k in cmds}
    for k, cmd in cmds.items():  # warm-up, not counted
        run(cmd, d / f"{k.split()[0]}.stderr")
    for _ in range(a.runs):
        for k, cmd in cmds.items():
            res[k].append(run(cmd, d / f"{k.split()[0]}.stderr"))
    for k, cmd in cmds.items():
        wall = statistics.median(w for w, _ in res[k])
        rss = statistics.median(r for _, r in res[k]) / 1024
        print(f"{k}: wall {wall:.2f} s, peak RSS {rss:.0f} MiB (medians of {a.runs}): "
              f"{' '.join(cmd[1:])}")
    ratios = [pa_[0] / csv_[0] for pa_, csv_ in zip(res["A parquet"], res["B csv"])]
    print(f"wall A/B: median {statistics.median(ratios):.3f} of the paired ratios "
          f"({', '.join(f'{r:.3f}' for r in ratios)})")
    check(d / "pairs.parquet", d / "pairs.csv")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--left", required=True, help="left CSV file")
    ap.add_argument("--right", required=True, help="right CSV file")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--binary", default=str(REPO / "target/release/carematch"))
    ap.add_argument("--workdir", help="where the working files go (default: a temporary dir)")
    a = ap.parse_args()
    if a.runs < 1:
        ap.error("--runs must be at least 1")
    if a.workdir:
        d = pathlib.Path(a.workdir)
        d.mkdir(parents=True, exist_ok=True)
        bench(a, d)
    else:
        with tempfile.TemporaryDirectory(prefix="carematch-parquet-") as d:
            bench(a, pathlib.Path(d))


if __name__ == "__main__":
    main()
