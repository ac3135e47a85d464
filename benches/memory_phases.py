#!/usr/bin/env python3
"""Where a carematch run's memory goes, phase by phase.

Runs one command, samples its resident memory (VmRSS of the process, from /proc) every
0.1 s, and splits the run at the progress lines carematch prints on standard error
("reading ...", "normalising", "training ...", "blocking", "linking", "writing", ...).
Prints, per phase, when it began, how long it took, the resident memory when it began and
the peak during it; then the whole run's wall time and peak (VmHWM).

    python3 benches/memory_phases.py -- carematch --progress dedupe --input d/gp.csv --out p.csv

(`--progress` makes carematch print its phases when standard error is not a terminal.)

Figures are whole-process figures. The sampling misses peaks shorter than 0.1 s; the
whole-run peak (VmHWM) does not.
"""

import re
import subprocess
import sys
import threading
import time

PHASES = re.compile(
    r"^(?:\[\s*[\d.]+s\]\s*)?"
    r"(reading|normalising|training|blocking|linking|writing|encoding|indexing|saving|done)\b"
)


def status(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def main():
    argv = sys.argv[1:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        sys.exit(__doc__)
    start = time.monotonic()
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, errors="replace")
    samples = []  # (seconds, rss)
    phases = []  # (seconds, name)
    hwm = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            rss = status(proc.pid, "VmRSS")
            peak = status(proc.pid, "VmHWM")
            if rss is not None:
                samples.append((time.monotonic() - start, rss))
            if peak is not None:
                hwm[0] = max(hwm[0], peak)
            time.sleep(0.1)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    for line in proc.stderr:
        # Progress lines are rewritten in place with carriage returns on a terminal; take the
        # last part of each line.
        text = line.rstrip("\n").split("\r")[-1].strip()
        m = PHASES.match(text)
        if m and (not phases or phases[-1][1] != m.group(1)):
            phases.append((time.monotonic() - start, m.group(1)))
        sys.stderr.write(line)
    code = proc.wait()
    end = time.monotonic() - start
    done.set()
    t.join()
    phases.append((end, "end"))
    mb = 1 << 20
    print(f"{'phase':<12} {'from s':>8} {'secs':>8} {'RSS at start MB':>16} {'peak MB':>9}")
    for (t0, name), (t1, _) in zip(phases, phases[1:]):
        inside = [r for s, r in samples if t0 <= s <= t1]
        before = [r for s, r in samples if s <= t0]
        at = before[-1] if before else 0
        peak = max(inside) if inside else at
        print(f"{name:<12} {t0:>8.1f} {t1 - t0:>8.1f} {at / mb:>16.0f} {peak / mb:>9.0f}")
    print(f"whole run: {end:.1f} s, peak resident {hwm[0] / mb:.0f} MB (VmHWM), exit {code}")
    sys.exit(code)


if __name__ == "__main__":
    main()
