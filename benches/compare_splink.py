#!/usr/bin/env python3
"""Benchmark carematch against Splink (DuckDB backend) on the same synthetic data.

    python3 benches/compare_splink.py --people 100000 [--seed 1] [--noise 1.0]
        [--workdir DIR] [--carematch PATH] [--skip-splink] [--runs K]

Generates a GP extract and a hospital extract with `carematch generate`, links them with
`carematch link`, links them again with Splink in a separate process of this script (so that
each tool's peak memory is measured on its own), and prints one side-by-side table: rows,
candidate pairs, time, peak memory, precision, recall and F1 against the generator's truth.

Standard library only. Splink and DuckDB are imported only inside the Splink worker
process (which reads the CSVs with DuckDB, all columns as text: Splink 5 does not install
pandas); if Splink cannot be imported, the script says so and runs carematch alone. Run it
with the Python that has Splink installed, or point `--splink-python` at it.
See benches/README.md for what every column means.
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
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CAREMATCH = REPO / "target" / "release" / "carematch"
STDERR_TAIL_LINES = 25
# Splink's P/R/F1 is also shown at these match probabilities (0.99: carematch's default
# threshold for an automatic match; 0.5: its threshold for review).
EXTRA_THRESHOLDS = (0.5, 0.9, 0.99)


# ---------------------------------------------------------------------------------------
# Running and measuring a child process
# ---------------------------------------------------------------------------------------


def run_measured(cmd: list[str], stdout_path: Path, stderr_path: Path) -> dict:
    """Runs `cmd` with stdout and stderr sent to files; returns its exit code, wall time
    and peak resident memory. The memory is the child's own `ru_maxrss` from `wait4` (what
    `/usr/bin/time -f %M` reports), so it is not mixed up with other children."""
    start = time.perf_counter()
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        try:
            if hasattr(os, "wait4"):
                _, status, usage = os.wait4(proc.pid, 0)
                rc = os.waitstatus_to_exitcode(status)
                proc.returncode = rc  # reaped already; stop Popen from waiting again
                maxrss_kb = usage.ru_maxrss  # kilobytes on Linux
            else:  # not Linux/Unix: time only
                rc = proc.wait()
                maxrss_kb = None
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    wall = time.perf_counter() - start
    return {"rc": rc, "wall_s": wall, "maxrss_kb": maxrss_kb}


def tail(path: Path, lines: int = STDERR_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return f"(could not read {path}: {e})"
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def fail_message(tool: str, cmd: list[str], res: dict, stderr_path: Path) -> str:
    return (
        f"{tool} failed (exit code {res['rc']}): {shlex.join(cmd)}\n"
        f"--- last lines of {stderr_path} ---\n{tail(stderr_path)}\n---"
    )


def count_csv_rows(path: Path) -> int:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader, None)
        return sum(1 for _ in reader)


# ---------------------------------------------------------------------------------------
# Evaluation (shared by both tools): pairs are (left/GP id, right/hospital id)
# ---------------------------------------------------------------------------------------


def read_truth(path: Path) -> set[tuple[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return {(r["left_id"], r["right_id"]) for r in csv.DictReader(f)}


def score(predicted: set[tuple[str, str]], truth: set[tuple[str, str]]) -> dict:
    tp = len(predicted & truth)
    fp = len(predicted) - tp
    fn = len(truth) - tp
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def carematch_pairs(path: Path) -> set[tuple[str, str]]:
    """Linked pairs from carematch's pairs.csv: with a `decision` column only `match` rows."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        has_decision = "decision" in (reader.fieldnames or [])
        return {
            (r["left_id"], r["right_id"])
            for r in reader
            if not has_decision or r["decision"] == "match"
        }


# ---------------------------------------------------------------------------------------
# carematch
# ---------------------------------------------------------------------------------------

_METRIC_RE = {
    k: re.compile(rf"^\s*{k}\s*:\s*([0-9]*\.?[0-9]+)", re.IGNORECASE | re.MULTILINE)
    for k in ("precision", "recall", "f1")
}


def parse_carematch_stdout(text: str) -> dict:
    """precision/recall/f1 from their `name: X` lines; candidate pairs as the first integer
    on the first line that mentions "candidate pairs" (the wording around it may change)."""
    out: dict = {}
    for k, rx in _METRIC_RE.items():
        m = rx.search(text)
        out[k] = float(m.group(1)) if m else None
    out["candidate_pairs"] = None
    out["timing_line"] = None
    for line in text.splitlines():
        if "candidate pairs" in line.lower():
            m = re.search(r"\d[\d,_]*", line)
            if m:
                out["candidate_pairs"] = int(re.sub(r"[,_]", "", m.group(0)))
            t = re.search(r"candidate pairs[^;]*?\bin\s+[0-9.]+\s*m?s\b", line, re.IGNORECASE)
            if t:  # e.g. "10025 candidate pairs compared in 0.01s"
                out["timing_line"] = line[: t.end()].strip()
            break
    return out


def ensure_carematch(path_arg: str | None, commands: list[str]) -> Path:
    if path_arg:
        path = Path(path_arg).expanduser().resolve()
        if not path.is_file():
            sys.exit(f"compare_splink: --carematch {path} does not exist")
        return path
    if DEFAULT_CAREMATCH.is_file():
        return DEFAULT_CAREMATCH
    if shutil.which("cargo") is None:
        sys.exit(
            f"compare_splink: {DEFAULT_CAREMATCH} is missing and cargo is not on PATH; "
            "build carematch or pass --carematch PATH"
        )
    cmd = ["cargo", "build", "--release", "--bin", "carematch"]
    print(f"building carematch: {shlex.join(cmd)} (in {REPO})", flush=True)
    commands.append(f"(cd {shlex.quote(str(REPO))} && {shlex.join(cmd)})")
    r = subprocess.run(cmd, cwd=REPO)
    if r.returncode != 0 or not DEFAULT_CAREMATCH.is_file():
        sys.exit(f"compare_splink: `{shlex.join(cmd)}` failed (exit code {r.returncode})")
    return DEFAULT_CAREMATCH


def run_carematch(cm: Path, data: Path, wd: Path, run: int, truth: set) -> tuple[dict, list]:
    out_pairs = wd / "carematch_pairs.csv"
    cmd = [
        str(cm), "link",
        "--left", str(data / "gp.csv"),
        "--right", str(data / "hospital.csv"),
        "--out", str(out_pairs),
        "--truth", str(data / "truth.csv"),
    ]
    so, se = wd / f"carematch_run{run}.stdout", wd / f"carematch_run{run}.stderr"
    res = run_measured(cmd, so, se)
    if res["rc"] != 0:
        return {"ok": False, "error": fail_message("carematch link", cmd, res, se)}, cmd
    parsed = parse_carematch_stdout(so.read_text(errors="replace"))
    own = score(carematch_pairs(out_pairs), truth)
    notes = []
    for k in ("precision", "recall", "f1"):
        if parsed[k] is None:
            notes.append(f"no `{k}:` line in carematch's stdout; using this script's own value")
            parsed[k] = own[k]
        elif abs(parsed[k] - own[k]) > 6e-4:  # carematch prints 4 decimals
            notes.append(
                f"carematch printed {k} {parsed[k]:.4f} but its pairs.csv scores "
                f"{own[k]:.4f} here"
            )
    if parsed["candidate_pairs"] is None:
        notes.append("no line mentioning `candidate pairs` in carematch's stdout")
    return {
        "ok": True,
        "wall_s": res["wall_s"],
        "maxrss_kb": res["maxrss_kb"],
        "train_s": None,
        "predict_s": None,
        "candidate_pairs": parsed["candidate_pairs"],
        "timing_line": parsed["timing_line"],
        "precision": parsed["precision"],
        "recall": parsed["recall"],
        "f1": parsed["f1"],
        "linked": own["tp"] + own["fp"],
        "tp": own["tp"], "fp": own["fp"], "fn": own["fn"],
        "notes": notes,
    }, cmd


# ---------------------------------------------------------------------------------------
# Splink (worker side: runs in its own process, imports splink/duckdb lazily)
# ---------------------------------------------------------------------------------------

# Which header holds which standard column, per input (lower-cased header names).
ROLES = {
    "unique_id": ["rec_id", "id", "patient_id", "mrn", "hospital_number"],
    "first_name": ["given_name", "first_name", "forename"],
    "surname": ["surname", "last_name", "family_name"],
    "dob": ["date_of_birth", "dob"],
    "sex": ["sex", "gender"],
    "postcode": ["postcode"],
    "nhs_number": ["nhs_number", "nhs_no"],
    "address": ["address", "address_line_1"],
}

# Soundex in DuckDB SQL, for when DuckDB has no soundex() (it is not built in; the
# splink_udfs community extension adds one). American Soundex: H and W do not separate
# equal codes, vowels do; accents are stripped first. Robert -> R163, Tymczak -> T522.
_SOUNDEX_MAP = "01230129022455012623019202"  # A..Z; 9 marks H and W
SOUNDEX_SQL_MACROS = [
    "CREATE OR REPLACE MACRO sdx_letters(s) AS "
    "upper(regexp_replace(strip_accents(s), '[^A-Za-z]', '', 'g'))",
    "CREATE OR REPLACE MACRO sdx_codes(u) AS "
    "CASE WHEN left(u, 1) IN ('H', 'W') THEN '0' "
    f"ELSE translate(left(u, 1), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', '{_SOUNDEX_MAP}') END "
    f"|| replace(translate(substr(u, 2), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', '{_SOUNDEX_MAP}'), "
    "'9', '')",
    "CREATE OR REPLACE MACRO sdx_collapse(c) AS "
    + "regexp_replace(" * 6 + "c"
    + "".join(f", '{d}+', '{d}', 'g')" for d in "123456"),
    "CREATE OR REPLACE MACRO sql_soundex(s) AS CASE WHEN sdx_letters(s) <> '' THEN "
    "left(sdx_letters(s), 1) || left(replace(substr(sdx_collapse(sdx_codes(sdx_letters(s))), "
    "2), '0', '') || '000', 3) END",
]


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _standardise_sql(raw: str, std: str, columns: list[str], phonetic: str) -> str:
    """The cleaning a Splink user writes in SQL: one common set of columns for both files."""
    lower = {c.lower(): c for c in columns}

    def col(role: str) -> str:
        for name in ROLES[role]:
            if name in lower:
                return '"' + lower[name].replace('"', '""') + '"'
        return "NULL"

    def name(x: str) -> str:  # case, accents, apostrophes, punctuation, spacing
        return (
            f"nullif(trim(regexp_replace(replace(strip_accents(lower(trim({x}))), '''', ''), "
            f"'[^a-z]+', ' ', 'g')), '')"
        )

    pc = f"upper(regexp_replace(coalesce({col('postcode')}, ''), '\\s', '', 'g'))"
    sdx = ""
    if phonetic in ("duckdb", "sql"):
        fn = "soundex" if phonetic == "duckdb" else "sql_soundex"
        sdx = f", {fn}(first_name) AS first_name_sdx, {fn}(surname) AS surname_sdx"
    return f"""
    CREATE OR REPLACE TABLE {std} AS
    WITH s AS (
      SELECT
        CAST({col('unique_id')} AS VARCHAR) AS unique_id,
        {name(col('first_name'))} AS first_name,
        {name(col('surname'))} AS surname,
        strftime(CAST(coalesce(try_strptime(trim({col('dob')}), '%d/%m/%Y'),
                               try_strptime(trim({col('dob')}), '%Y-%m-%d')) AS DATE),
                 '%Y-%m-%d') AS dob,
        CASE WHEN upper(trim({col('sex')})) IN ('M', 'MALE', '1') THEN 'M'
             WHEN upper(trim({col('sex')})) IN ('F', 'FEMALE', '2') THEN 'F' END AS sex,
        CASE WHEN length({pc}) BETWEEN 5 AND 7
             THEN left({pc}, length({pc}) - 3) || ' ' || right({pc}, 3)
             ELSE nullif({pc}, '') END AS postcode,
        nullif(regexp_replace(coalesce({col('nhs_number')}, ''), '[^0-9]', '', 'g'), '')
          AS nhs_number,
        nullif(trim(regexp_replace(strip_accents(lower(coalesce({col('address')}, ''))),
                                   '[^a-z0-9]+', ' ', 'g')), '') AS address
      FROM {raw}
    )
    SELECT *,
      nullif(regexp_extract(postcode, '^[A-Z]{{1,2}}[0-9][A-Z0-9]?'), '') AS postcode_district,
      substr(dob, 1, 4) AS dob_year,
      list_distinct(string_split(address, ' ')) AS address_tokens
      {sdx}
    FROM s
    """


def splink_worker(a: argparse.Namespace) -> int:
    t_start = time.perf_counter()
    import logging

    import duckdb
    import splink
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    phases: dict[str, float] = {"import": time.perf_counter() - t_start}
    result: dict = {
        "splink_version": splink.__version__,
        "duckdb_version": duckdb.__version__,
        "python": platform.python_version(),
    }
    out_dir = Path(a.out_dir)

    # ---- load and standardise ----------------------------------------------------------
    t = time.perf_counter()
    con = duckdb.connect()

    def q(sql: str) -> list:
        # Fetch every result so that the connection is free for the next statement.
        return con.execute(sql).fetchall()

    result["duckdb_threads"] = q("SELECT current_setting('threads')")[0][0]

    phonetic = a.soundex
    if phonetic in ("auto", "duckdb"):
        def has_soundex() -> bool:
            sql = "SELECT count(*) FROM duckdb_functions() WHERE function_name = 'soundex'"
            return q(sql)[0][0] > 0

        if not has_soundex():
            try:  # the splink_udfs community extension, if it is installed already
                q("LOAD splink_udfs")
            except Exception:
                pass
        if has_soundex():
            phonetic = "duckdb"
        elif phonetic == "duckdb":
            raise SystemExit(
                "--splink-soundex duckdb: DuckDB has no soundex() here; install it once with "
                "`INSTALL splink_udfs FROM community`, or use --splink-soundex sql"
            )
        else:
            phonetic = "sql"
    if phonetic == "sql":
        for macro in SOUNDEX_SQL_MACROS:
            q(macro)
    result["phonetic"] = {
        "duckdb": "Soundex (DuckDB soundex(), splink_udfs extension)",
        "sql": "Soundex (SQL macro in DuckDB: no soundex() built in)",
        "substr": "first 2 characters, substr(name, 1, 2)",
    }[phonetic]

    rows = {}
    for src, path in (("gp", a.left), ("hospital", a.right)):
        q(
            f"CREATE TABLE {src}_raw AS SELECT * FROM read_csv({_sql_str(path)}, "
            "header = true, all_varchar = true, quote = '\"', escape = '\"')"
        )
        cols = [r[0] for r in q(f"DESCRIBE {src}_raw")]
        q(_standardise_sql(f"{src}_raw", f"{src}_std", cols, phonetic))
        q(f"DROP TABLE {src}_raw")
        rows[src] = q(f"SELECT count(*) FROM {src}_std")[0][0]
    result["rows"] = rows
    phases["load"] = time.perf_counter() - t

    # ---- model ---------------------------------------------------------------------------
    def ph(column: str) -> str:
        return f"{column}_sdx" if phonetic in ("duckdb", "sql") else f"substr({column}, 1, 2)"

    address_jaccard = (
        "len(list_intersect(address_tokens_l, address_tokens_r)) / "
        "(len(address_tokens_l) + len(address_tokens_r) "
        "- len(list_intersect(address_tokens_l, address_tokens_r)))"
    )
    comparisons = [
        cl.NameComparison("first_name", jaro_winkler_thresholds=[0.92, 0.88]).configure(
            term_frequency_adjustments=True
        ),
        cl.NameComparison("surname", jaro_winkler_thresholds=[0.92, 0.88]).configure(
            term_frequency_adjustments=True
        ),
        cl.DateOfBirthComparison(
            "dob",
            input_is_string=True,
            datetime_format="%Y-%m-%d",
            datetime_thresholds=[1, 1],
            datetime_metrics=["month", "year"],
        ),
        cl.PostcodeComparison("postcode").configure(term_frequency_adjustments=True),
        cl.ExactMatch("nhs_number"),
        cl.ExactMatch("sex"),
        cl.CustomComparison(
            output_column_name="address",
            comparison_description="token Jaccard on address",
            comparison_levels=[
                cll.NullLevel("address"),
                # No exact-match level: GP addresses carry the town and hospital ones do
                # not, so it is never observed and Splink cannot train it.
                cll.CustomLevel(f"({address_jaccard}) >= 0.7", "token Jaccard >= 0.7"),
                cll.CustomLevel(f"({address_jaccard}) >= 0.4", "token Jaccard >= 0.4"),
                cll.ElseLevel(),
            ],
        ),
    ]
    blocking = [
        block_on("nhs_number"),
        block_on("dob", ph("surname")),
        block_on("dob", "postcode_district"),
        block_on(ph("first_name"), ph("surname"), "dob_year"),
        block_on("postcode", "substr(first_name, 1, 1)"),
    ]
    result["blocking_rules"] = [
        "nhs_number",
        f"dob & {ph('surname')}",
        "dob & postcode_district",
        f"{ph('first_name')} & {ph('surname')} & dob_year",
        "postcode & substr(first_name, 1, 1)",
    ]
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI(connection=con)
    left = db_api.register("gp_std", dataset_display_name="gp")
    right = db_api.register("hospital_std", dataset_display_name="hospital")
    linker = Linker([left, right], settings, log_level=logging.INFO)

    # ---- train ---------------------------------------------------------------------------
    t = time.perf_counter()
    linker.training.estimate_probability_two_random_records_match(
        [block_on("nhs_number", "dob")], recall=0.9
    )
    phases["train: prior"] = time.perf_counter() - t
    t_u = time.perf_counter()
    linker.training.estimate_u_using_random_sampling(max_pairs=a.max_pairs, seed=a.seed)
    phases["train: u"] = time.perf_counter() - t_u
    t_em = time.perf_counter()
    em_rules = [block_on("dob"), block_on("first_name", "surname")]
    for rule in em_rules:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    phases["train: EM"] = time.perf_counter() - t_em
    phases["train"] = time.perf_counter() - t
    result["training"] = {
        "prior": "block_on(nhs_number, dob), recall 0.9",
        "u": f"random sampling, max_pairs {a.max_pairs:g}, seed {a.seed}",
        "em": "block_on(dob); block_on(first_name, surname)",
        "probability_two_random_records_match":
            linker._settings_obj._probability_two_random_records_match,
    }

    # ---- predict -------------------------------------------------------------------------
    t = time.perf_counter()
    blocked = linker.inference.compute_blocked_pairs_for_predict()
    # Scored at the lowest threshold reported; the table's threshold is a.threshold.
    thresholds = sorted({a.threshold, *EXTRA_THRESHOLDS})
    pred = linker.inference.predict(threshold_match_probability=thresholds[0])
    phases["predict"] = time.perf_counter() - t
    result["candidate_pairs"] = q(f"SELECT count(*) FROM {blocked.physical_name}")[0][0]

    # ---- write pairs like carematch does, then evaluate ---------------------------------
    t = time.perf_counter()
    oriented = f"""
        SELECT CASE WHEN source_dataset_l = 'gp' THEN unique_id_l ELSE unique_id_r END
                 AS left_id,
               CASE WHEN source_dataset_l = 'gp' THEN unique_id_r ELSE unique_id_l END
                 AS right_id,
               match_weight, match_probability
        FROM {pred.physical_name}
    """
    pairs_csv = out_dir / "splink_pairs.csv"
    q(f"COPY ({oriented} ORDER BY left_id, right_id) TO {_sql_str(str(pairs_csv))} "
      "(HEADER, DELIMITER ',')")
    phases["write"] = time.perf_counter() - t

    t = time.perf_counter()
    scored = [(l, r, p) for l, r, _, p in q(oriented)]
    truth = read_truth(Path(a.truth))
    result["by_threshold"] = {
        f"{t:g}": score({(l, r) for l, r, p in scored if p >= t}, truth) for t in thresholds
    }
    predicted = {(l, r) for l, r, p in scored if p >= a.threshold}
    result.update(score(predicted, truth))
    result["linked"] = len(predicted)
    phases["evaluate"] = time.perf_counter() - t

    phases["in_process_total"] = time.perf_counter() - t_start
    result["phases"] = phases
    result["threshold"] = a.threshold
    Path(a.result_json).write_text(json.dumps(result, indent=2))
    return 0


def probe_splink(python: str) -> tuple[dict | None, str]:
    code = (
        "import json, platform, splink, duckdb; "
        "print(json.dumps({'splink': splink.__version__, 'duckdb': duckdb.__version__, "
        "'python': platform.python_version()}))"
    )
    try:
        r = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["?"])[-1]
        return None, last
    try:
        return json.loads(r.stdout.strip().splitlines()[-1]), ""
    except (ValueError, IndexError):
        return None, r.stdout.strip()


def run_splink(python: str, data: Path, wd: Path, run: int, a: argparse.Namespace
               ) -> tuple[dict, list]:
    result_json = wd / f"splink_run{run}.json"
    cmd = [
        python, str(Path(__file__).resolve()), "--splink-worker",
        "--left", str(data / "gp.csv"),
        "--right", str(data / "hospital.csv"),
        "--truth", str(data / "truth.csv"),
        "--out-dir", str(wd),
        "--result-json", str(result_json),
        "--threshold", repr(a.threshold),
        "--seed", str(a.seed),
        "--max-pairs", f"{a.splink_max_pairs:g}",
        "--soundex", a.splink_soundex,
    ]
    so, se = wd / f"splink_run{run}.stdout", wd / f"splink_run{run}.stderr"
    res = run_measured(cmd, so, se)
    if res["rc"] != 0 or not result_json.is_file():
        return {"ok": False, "error": fail_message("splink worker", cmd, res, se)}, cmd
    r = json.loads(result_json.read_text())
    r.update(
        ok=True,
        wall_s=res["wall_s"],
        maxrss_kb=res["maxrss_kb"],
        train_s=r["phases"]["train"],
        predict_s=r["phases"]["predict"],
        notes=[],
    )
    return r, cmd


# ---------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------


def summarise(runs: list[dict]) -> dict | None:
    ok = [r for r in runs if r.get("ok")]
    if not ok:
        return None
    first = ok[0]

    def med(key):
        vals = [r[key] for r in ok if r.get(key) is not None]
        return statistics.median(vals) if vals else None

    mem = [r["maxrss_kb"] for r in ok if r.get("maxrss_kb") is not None]
    s = dict(first)
    s.update(
        n_runs=len(ok),
        wall_s=med("wall_s"),
        train_s=med("train_s"),
        predict_s=med("predict_s"),
        maxrss_kb=max(mem) if mem else None,
    )
    varying = [k for k in ("precision", "recall", "f1", "candidate_pairs")
               if len({r.get(k) for r in ok}) > 1]
    if varying:
        s.setdefault("notes", []).append(
            f"{', '.join(varying)} varied between runs; the table shows run 1"
        )
    return s


def fmt_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    def line(cells):
        return "  ".join(c.rjust(w) if i else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def machine_info() -> dict:
    info = {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "os": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "memory": "?",
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory"] = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return info


def carematch_version(cm: Path) -> str:
    try:
        r = subprocess.run([str(cm), "--version"], capture_output=True, text=True, timeout=30)
        v = r.stdout.strip() or r.stderr.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        v = f"? ({e})"
    try:
        built = time.strftime("%Y-%m-%d %H:%M", time.localtime(cm.stat().st_mtime))
        v += f", binary built {built}"
    except OSError:
        pass
    if cm == DEFAULT_CAREMATCH and shutil.which("git"):
        g = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                           capture_output=True, text=True)
        if g.returncode == 0:
            v += f", repo at {g.stdout.strip()}"
    return v


def print_report(a, machine, versions, rows, summaries, commands, data_dir) -> None:
    header = ["tool", "rows (left x right)", "candidate pairs", "total (s)", "train (s)",
              "predict (s)", "pairs/s", "peak mem (MB)", "precision", "recall", "F1"]
    table = []
    for tool, s in summaries:
        if s is None:
            table.append([tool, f"{rows[0]:,} x {rows[1]:,}"] + ["failed"] + [""] * 8)
            continue

        def sec(v):
            return "-" if v is None else f"{v:.2f}"

        cp = s.get("candidate_pairs")
        table.append([
            tool,
            f"{rows[0]:,} x {rows[1]:,}",
            "?" if cp is None else f"{cp:,}",
            sec(s["wall_s"]),
            sec(s["train_s"]),
            sec(s["predict_s"]),
            "?" if cp is None or not s["wall_s"] else f"{cp / s['wall_s']:,.0f}",
            "?" if s["maxrss_kb"] is None else f"{s['maxrss_kb'] / 1024:,.0f}",
            f"{s['precision']:.4f}",
            f"{s['recall']:.4f}",
            f"{s['f1']:.4f}",
        ])
    runs = "1 run" if a.runs == 1 else f"median of {a.runs} runs for times, max for memory"
    print()
    print(f"carematch vs Splink: {a.people:,} people, seed {a.seed}, noise {a.noise} ({runs})")
    print()
    print(fmt_table(header, table))
    print()
    print("total = wall time of the whole process (start-up, read, normalise, block, score, "
          "write pairs, evaluate);")
    print("pairs/s = candidate pairs / total; peak mem = the process's max RSS (wait4 "
          "ru_maxrss, as /usr/bin/time %M).")
    for tool, s in summaries:
        if s is None:
            continue
        print()
        if tool == "carematch":
            said = f" (its own line: {s['timing_line']})" if s.get("timing_line") else ""
            print("carematch: train/predict '-': carematch prints no per-phase times; total "
                  f"includes any training{said};")
            print(f"  links = pairs with decision=match ({s['linked']:,}: tp {s['tp']:,}, "
                  f"fp {s['fp']:,}, fn {s['fn']:,}); P/R/F1 as carematch printed them.")
        else:
            p = s["phases"]
            print(f"splink: links = predictions with match_probability >= {s['threshold']} "
                  f"({s['linked']:,}: tp {s['tp']:,}, fp {s['fp']:,}, fn {s['fn']:,});")
            print("  phases of run 1 (s): " + ", ".join(
                f"{k} {p[k]:.2f}" for k in
                ("import", "load", "train", "train: prior", "train: u", "train: EM",
                 "predict", "write", "evaluate")))
            print("  at other thresholds: " + "; ".join(
                f">= {t}: P {m['precision']:.4f} R {m['recall']:.4f} F1 {m['f1']:.4f}"
                for t, m in s["by_threshold"].items()))
            print(f"  name blocking key: {s['phonetic']}; DuckDB threads: "
                  f"{s['duckdb_threads']}")
            print(f"  blocking rules: {'; '.join(s['blocking_rules'])}")
            t = s["training"]
            print(f"  training: prior {t['prior']} -> "
                  f"{t['probability_two_random_records_match']:.3g}; u {t['u']}; "
                  f"EM {t['em']}")
        for n in s.get("notes", []):
            print(f"  note: {n}")
    print()
    print("machine:")
    print(f"  nproc {machine['nproc']}, {machine['memory']}, {machine['cpu']}, {machine['os']}")
    for k, v in versions.items():
        print(f"  {k}: {v}")
    print(f"  data: {data_dir}")
    print()
    print("commands run:")
    for c in commands:
        print(f"  {c}")


# ---------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------


def positive_int(s: str) -> int:
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return v


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Benchmark carematch against Splink (DuckDB) on synthetic NHS data.",
        epilog="See benches/README.md.",
    )
    p.add_argument("--people", type=positive_int, default=100_000,
                   help="people to generate (default 100000)")
    p.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    p.add_argument("--noise", type=float, default=1.0,
                   help="generator noise multiplier (default 1.0)")
    p.add_argument("--workdir", help="where to put data and outputs (default: a temporary "
                   "directory, removed at the end)")
    p.add_argument("--carematch", help="carematch binary (default target/release/carematch, "
                   "built with `cargo build --release` if missing)")
    p.add_argument("--skip-splink", action="store_true", help="run carematch only")
    p.add_argument("--runs", type=positive_int, default=1,
                   help="runs of each tool; times are the median (default 1)")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="Splink match probability threshold for a link (default 0.5)")
    p.add_argument("--splink-python", default=sys.executable,
                   help="Python with splink installed (default: this Python)")
    p.add_argument("--splink-max-pairs", type=float, default=1e7,
                   help="max_pairs for Splink's u estimation (default 1e7)")
    p.add_argument("--splink-soundex", choices=["auto", "duckdb", "sql", "substr"],
                   default="auto",
                   help="name key in Splink's blocking rules: `duckdb` = DuckDB's soundex() "
                   "(splink_udfs extension, if installed), `sql` = Soundex as a DuckDB SQL "
                   "macro, `substr` = first 2 characters; `auto` (default) = duckdb if "
                   "available, else sql")
    p.add_argument("--json", help="also write the results as JSON to this file")
    # Internal: the Splink worker process.
    p.add_argument("--splink-worker", action="store_true", help=argparse.SUPPRESS)
    for flag in ("--left", "--right", "--truth", "--out-dir", "--result-json"):
        p.add_argument(flag, help=argparse.SUPPRESS)
    p.add_argument("--max-pairs", type=float, default=1e7, help=argparse.SUPPRESS)
    p.add_argument("--soundex", default="auto", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if not 0.0 < a.threshold < 1.0:
        p.error("--threshold must be between 0 and 1")
    return a


def main(argv: list[str]) -> int:
    a = parse_args(argv)
    if a.splink_worker:
        return splink_worker(a)

    commands: list[str] = []
    cm = ensure_carematch(a.carematch, commands)

    splink_info = None
    if a.skip_splink:
        print("--skip-splink: running carematch only", flush=True)
    else:
        splink_info, why = probe_splink(a.splink_python)
        if splink_info is None:
            print(f"splink is not importable by {a.splink_python} ({why}); running carematch "
                  "only. Install it with: python3 -m venv ~/splinkenv && "
                  "~/splinkenv/bin/pip install splink", flush=True)

    tmp = None
    if a.workdir:
        wd = Path(a.workdir).expanduser().resolve()
        wd.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.mkdtemp(prefix="carematch-vs-splink-")
        wd = Path(tmp)
    rc = 1
    try:
        rc = bench(a, cm, splink_info, wd, commands)
        return rc
    finally:
        if tmp and rc == 0:
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp:
            print(f"kept {tmp} for its logs", file=sys.stderr)


def bench(a, cm: Path, splink_info: dict | None, wd: Path, commands: list[str]) -> int:
    data = wd / "data"
    data.mkdir(exist_ok=True)
    gen = [str(cm), "generate", "--people", str(a.people), "--seed", str(a.seed),
           "--noise", f"{a.noise:g}", "--out-dir", str(data)]
    commands.append(shlex.join(gen))
    print(f"generating: {shlex.join(gen)}", flush=True)
    res = run_measured(gen, wd / "generate.stdout", wd / "generate.stderr")
    if res["rc"] != 0:
        print(fail_message("carematch generate", gen, res, wd / "generate.stderr"),
              file=sys.stderr)
        return 1
    rows = (count_csv_rows(data / "gp.csv"), count_csv_rows(data / "hospital.csv"))
    truth = read_truth(data / "truth.csv")
    print(f"  {rows[0]:,} x {rows[1]:,} rows, {len(truth):,} true pairs "
          f"({res['wall_s']:.1f} s)", flush=True)

    cm_runs: list[dict] = []
    sp_runs: list[dict] = []
    failed = False
    for run in range(1, a.runs + 1):
        print(f"run {run}/{a.runs}: carematch link ...", flush=True)
        r, cmd = run_carematch(cm, data, wd, run, truth)
        if run == 1:
            commands.append(shlex.join(cmd))
        cm_runs.append(r)
        if r["ok"]:
            print(f"  {r['wall_s']:.2f} s, F1 {r['f1']:.4f}", flush=True)
        else:
            failed = True
            print(r["error"], file=sys.stderr)
        if splink_info is not None:
            print(f"run {run}/{a.runs}: splink ...", flush=True)
            r, cmd = run_splink(a.splink_python, data, wd, run, a)
            if run == 1:
                commands.append(shlex.join(cmd))
            sp_runs.append(r)
            if r["ok"]:
                print(f"  {r['wall_s']:.2f} s, F1 {r['f1']:.4f}", flush=True)
            else:
                failed = True
                print(r["error"], file=sys.stderr)

    summaries = [("carematch", summarise(cm_runs))]
    if splink_info is not None:
        summaries.append(("splink", summarise(sp_runs)))
    versions = {
        "python (this script)": f"{platform.python_version()} ({sys.executable})",
        "carematch": f"{carematch_version(cm)} ({cm})",
    }
    if splink_info is not None:
        versions["splink"] = (f"{splink_info['splink']}, duckdb {splink_info['duckdb']}, "
                              f"python {splink_info['python']} ({a.splink_python})")
    else:
        versions["splink"] = "not run"
    print_report(a, machine_info(), versions, rows, summaries, commands, data)

    if a.json:
        Path(a.json).write_text(json.dumps({
            "people": a.people, "seed": a.seed, "noise": a.noise, "runs": a.runs,
            "rows": rows, "machine": machine_info(), "versions": versions,
            "commands": commands,
            "results": {tool: {"summary": s, "runs": runs} for (tool, s), runs in
                        zip(summaries, [cm_runs, sp_runs])},
        }, indent=2, default=str))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
