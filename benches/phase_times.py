#!/usr/bin/env python3
"""How long each phase of a carematch run takes, for two builds run in turns.

    python3 benches/phase_times.py --runs 3 --before OLD_BIN --after NEW_BIN -- \
        link --left d/gp.csv --right d/hospital.csv --out {out} --truth d/truth.csv

Runs `BIN --progress ARGS...` for each build in turns (before, after, before, after, ...),
reads the phase lines carematch prints on standard error (`[  1.20s] normalising`), and
prints each phase's median seconds per build, their ratio, and the whole run's. `{out}` in
the arguments becomes a file per build in a temporary directory; when both builds have
written their outputs, the script says whether they are byte-identical. With `--after`
alone it times one build.

Runs in turns so that a machine whose speed drifts slows both builds alike; the medians
are what to quote. Standard library only.
"""

from __future__ import annotations

import argparse
import filecmp
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

# A phase line: "[   1.20s] reading gp.csv", "[   2.46s] normalising", ...; the step lines
# in between ("reading gp.csv: 2% (...)", "comparing: ...") are not phases.
LINE = re.compile(r"^\[\s*([\d.]+)s\]\s+(.+?)\s*$")
PHASES = ("reading", "normalising", "training", "blocking", "linking", "writing", "done")


def phases(stderr: str) -> list[tuple[str, float]]:
    """(phase, start seconds) in order; each source's reading is its own phase."""
    out: list[tuple[str, float]] = []
    for part in stderr.replace("\r", "\n").splitlines():
        m = LINE.match(part.strip())
        if not m:
            continue
        secs, text = float(m.group(1)), m.group(2)
        if ":" in text:
            continue
        word = text.split()[0]
        if word in PHASES and (not out or out[-1][0] != text):
            out.append((text, secs))
    return out


def durations(marks: list[tuple[str, float]]) -> dict[str, float]:
    """Each phase's seconds (to the next mark), the readings summed, and the whole run."""
    d: dict[str, float] = {}
    for (name, start), (_, end) in zip(marks, marks[1:]):
        key = "reading" if name.startswith("reading") else name.split()[0]
        d[key] = d.get(key, 0.0) + end - start
    if marks:
        d["whole run"] = marks[-1][1]
    return d


def run(binary: str, args: list[str], out: Path) -> dict[str, float]:
    cmd = [binary, "--progress", *[a.replace("{out}", str(out)) for a in args]]
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                       errors="replace", check=False)
    if r.returncode != 0:
        sys.exit(f"phase_times: {' '.join(cmd)} exited {r.returncode}:\n{r.stderr[-2000:]}")
    d = durations(phases(r.stderr))
    if "whole run" not in d:
        sys.exit(f"phase_times: no phase lines in the stderr of {' '.join(cmd)}")
    return d


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", help="the build to compare against (optional)")
    p.add_argument("--after", required=True, help="the build being measured")
    p.add_argument("--runs", type=int, default=3, help="runs of each build (default 3)")
    p.add_argument("args", nargs=argparse.REMAINDER, help="-- carematch's arguments")
    a = p.parse_args()
    args = a.args[1:] if a.args[:1] == ["--"] else a.args
    if not args:
        p.error("give carematch's arguments after --")
    builds = [("before", a.before), ("after", a.after)] if a.before else [("after", a.after)]
    times: dict[str, list[dict[str, float]]] = {name: [] for name, _ in builds}
    with tempfile.TemporaryDirectory() as tmp:
        outs = {name: Path(tmp) / f"{name}.out" for name, _ in builds}
        for i in range(a.runs):
            for name, binary in builds:
                times[name].append(run(binary, args, outs[name]))
                print(f"run {i + 1}/{a.runs} {name}: {times[name][-1]['whole run']:.2f} s",
                      file=sys.stderr)
        same = None
        if a.before and all(o.exists() for o in outs.values()):
            same = filecmp.cmp(outs["before"], outs["after"], shallow=False)
    order = [k for k in times["after"][0]]
    print(f"median of {a.runs} runs, in turns (seconds)")
    head = f"{'phase':<14}" + "".join(f"{name:>10}" for name, _ in builds)
    print(head + (f"{'after/before':>14}" if a.before else ""))
    for k in order:
        meds = [statistics.median(t.get(k, 0.0) for t in times[name]) for name, _ in builds]
        row = f"{k:<14}" + "".join(f"{m:>10.2f}" for m in meds)
        if a.before:
            row += f"{meds[1] / meds[0]:>14.3f}" if meds[0] > 0 else f"{'-':>14}"
        print(row)
    if same is not None:
        print(f"outputs byte-identical: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
