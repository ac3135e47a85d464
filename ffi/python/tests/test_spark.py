"""carematch on Spark (carematch.spark) against the command line: on the generator's
100k-person files the pairs must be the CLI's exactly (same pairs, decisions, rules, reasons;
weights to 1e-9) and so must every record's person id.

Needs pyspark, a Java runtime and the release `carematch` binary (CAREMATCH_BIN, or
target/release/carematch of this repository). Without them the test is skipped, except in CI
(CI=true), where it fails: CI installs them (.ci/run)."""

import math
import os
import pathlib
import shutil
import subprocess
import sys

import pandas as pd
import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _missing(reason):
    if IN_CI:
        pytest.fail(f"CI must run the Spark test: {reason}")
    pytest.skip(reason)


def _binary():
    b = os.environ.get("CAREMATCH_BIN") or str(REPO / "target" / "release" / "carematch")
    if not os.access(b, os.X_OK):
        _missing(f"no carematch binary at {b} (cargo build --release, or set CAREMATCH_BIN)")
    return b


@pytest.fixture(scope="module")
def spark():
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        _missing("pyspark is not installed (pip install pyspark)")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        _missing("no Java runtime (apt-get install default-jre-headless)")
    # The workers run this interpreter, which has carematch installed.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    s = (SparkSession.builder.master("local[2]").appName("carematch-test")
         .config("spark.sql.shuffle.partitions", "4")
         .config("spark.driver.memory", "3g")
         .config("spark.ui.enabled", "false")
         .getOrCreate())
    yield s
    s.stop()


def _read(spark, path):
    return spark.read.csv(str(path), header=True, escape='"')


def _cli(*args):
    subprocess.run([_binary(), "--quiet", *map(str, args)], check=True,
                   stdout=subprocess.DEVNULL)


def _same_pairs(spark_pairs, cli_parquet):
    """The pairs equal the command line's, written as Parquet (weights at full precision;
    the CSV file rounds them)."""
    import pyarrow.parquet as pq

    got = spark_pairs.toPandas()
    want = pq.read_table(cli_parquet).to_pandas()
    for c in ("rule", "reason"):
        want[c] = want[c].fillna("")
    assert len(got) == len(want)
    got = got.sort_values(["left_id", "right_id"]).reset_index(drop=True)
    want = want.sort_values(["left_id", "right_id"]).reset_index(drop=True)
    assert list(got.left_id) == list(want.left_id)
    assert list(got.right_id) == list(want.right_id)
    assert list(got.decision) == list(want.decision)
    assert list(got.rule.fillna("")) == list(want.rule)
    assert list(got.reason.fillna("")) == list(want.reason)
    worst = max(abs(a - b) for a, b in zip(got.match_weight, want.match_weight))
    assert worst <= 1e-9, worst
    assert all(math.isclose(a, b, rel_tol=0, abs_tol=1e-12)
               for a, b in zip(got.match_probability, want.match_probability))
    return got


def _same_people(spark_clusters, cli_csv):
    got = spark_clusters.toPandas()
    want = pd.read_csv(cli_csv, dtype=str)
    assert len(got) == len(want)
    g = dict(zip(got.record_id, got.person_id))
    w = dict(zip(want.record_id, want.cluster_id))
    assert g == w


def test_spark_link_equals_the_cli_on_100k_people(spark, tmp_path):
    """The issue's acceptance test: generator, 100k people, seed 1; one model for both."""
    import carematch.spark

    d = tmp_path / "100k"
    _cli("generate", "--people", 100000, "--seed", 1, "--out-dir", d)
    gp, hosp = d / "gp.csv", d / "hospital.csv"
    _cli("train", "--left", gp, "--right", hosp, "--out", d / "model.json")
    _cli("link", "--left", gp, "--right", hosp, "--model", d / "model.json",
         "--out", d / "pairs.parquet", "--clusters", d / "clusters.csv")
    run = carematch.spark.link(_read(spark, gp), _read(spark, hosp), model=str(d / "model.json"))
    got = _same_pairs(run.pairs, d / "pairs.parquet")
    assert set(got.decision) == {"match", "review", "ambiguous"}
    assert got.rule.notna().any() and got.rule.isna().any()
    _same_people(run.clusters, d / "clusters.csv")


def test_spark_trains_on_the_driver_and_takes_the_config_as_the_cli(spark, tmp_path):
    """No model: trained on the driver on all of the sample data, as `link` trains; a config
    with thresholds, one rule and one-to-one, as `--config` gives them."""
    import json

    import carematch.spark

    config = {"thresholds": {"match_probability": 0.995, "ambiguity_margin": 6.0},
              "rules": [{"name": "nhs-dob", "when": "nhs_number & dob"}],
              "one_to_one": True}
    (tmp_path / "config.json").write_text(json.dumps(config))
    gp, hosp = REPO / "examples" / "data" / "gp.csv", REPO / "examples" / "data" / "hospital.csv"
    _cli("link", "--left", gp, "--right", hosp, "--config", tmp_path / "config.json",
         "--out", tmp_path / "pairs.parquet")
    run = carematch.spark.link(_read(spark, gp), _read(spark, hosp), config=config)
    got = _same_pairs(run.pairs, tmp_path / "pairs.parquet")
    assert "one_to_one" in set(got.reason.fillna(""))
