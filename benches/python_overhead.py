"""The overhead of linking through Python against the command line, on the same files.

    python benches/python_overhead.py --people 100000 --seed 100 [--runs 3] [--cli target/release/carematch]

Generates the data with the CLI (or reuses --dir), then times, alternating, runs of
  cli:    carematch link --left gp.csv --right hospital.csv --out pairs.csv   (end to end)
  python: pandas.read_csv of both files + carematch.link(gp, hospital) + writing pairs.csv
  python, link only: carematch.link(gp, hospital) on frames already in memory
and prints the median of each and the overheads; the two pairs files must be equal.
"""

import argparse
import pathlib
import statistics
import subprocess
import tempfile
import time

import pandas as pd

import carematch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir")
    ap.add_argument("--cli", default="target/release/carematch")
    a = ap.parse_args()
    d = pathlib.Path(a.dir or tempfile.mkdtemp(prefix="carematch-overhead-"))
    if not (d / "gp.csv").exists():
        subprocess.run([a.cli, "generate", "--people", str(a.people), "--seed", str(a.seed),
                        "--out-dir", str(d)], check=True, capture_output=True)
    gp_path, h_path = d / "gp.csv", d / "hospital.csv"
    cli, py, py_link = [], [], []
    for _ in range(a.runs):
        t = time.perf_counter()
        subprocess.run([a.cli, "link", "--left", str(gp_path), "--right", str(h_path),
                        "--out", str(d / "cli_pairs.csv")], check=True, capture_output=True)
        cli.append(time.perf_counter() - t)

        t = time.perf_counter()
        gp = pd.read_csv(gp_path, dtype=str, keep_default_na=False, engine="pyarrow")
        h = pd.read_csv(h_path, dtype=str, keep_default_na=False, engine="pyarrow")
        t_read = time.perf_counter()
        pairs = carematch.link(gp, h)
        t_link = time.perf_counter()
        pairs.to_csv(d / "py_pairs.csv", index=False, float_format="%.8f")
        py.append(time.perf_counter() - t)
        py_link.append(t_link - t_read)
    a_cli = pd.read_csv(d / "cli_pairs.csv", dtype=str, keep_default_na=False)
    a_py = pd.read_csv(d / "py_pairs.csv", dtype=str, keep_default_na=False)
    same = a_cli[["left_id", "right_id", "decision", "rule"]].equals(
        a_py[["left_id", "right_id", "decision", "rule"]])
    m_cli, m_py, m_link = (statistics.median(x) for x in (cli, py, py_link))
    print(f"data: {len(gp)} x {len(h)} records ({a.people} people, seed {a.seed}); "
          f"{len(pairs)} pairs; same pairs and decisions as the CLI: {same}")
    print(f"cli end to end:            median {m_cli:.3f} s of {a.runs} {sorted(round(x, 3) for x in cli)}")
    print(f"python end to end:         median {m_py:.3f} s  ({(m_py / m_cli - 1) * 100:+.1f}% against the cli)")
    print(f"python link on frames:     median {m_link:.3f} s  ({(m_link / m_cli - 1) * 100:+.1f}% against the cli)")
    if not same:
        raise SystemExit("the Python pairs differ from the CLI's")


if __name__ == "__main__":
    main()
