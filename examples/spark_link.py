"""Links two files on Apache Spark with carematch, as `carematch link` links them.

    pip install ./ffi/python pyspark          # and a Java runtime (apt-get install default-jre-headless)
    carematch generate --people 100000 --seed 1 --out-dir d
    carematch train --left d/gp.csv --right d/hospital.csv --out d/model.json
    python examples/spark_link.py --left d/gp.csv --right d/hospital.csv --model d/model.json \\
        --out d/spark-pairs.csv --clusters d/spark-clusters.csv

Without --model a model is trained on the driver on a sample (--sample, the share of rows of
each file; 1.0 trains on all of it, as the command line does). --config takes the command
line's config file. --master is Spark's (local[2] here; a cluster's in production). The pairs
file has the command line's columns and order; so does the clusters file (with `left` and
`right` as the sources)."""

import argparse
import json
import os
import sys
import time

from pyspark.sql import SparkSession

import carematch.spark


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--left", required=True)
    ap.add_argument("--right", required=True)
    ap.add_argument("--out", required=True, help="the pairs, as one CSV file")
    ap.add_argument("--clusters", help="every record's person id, as one CSV file")
    ap.add_argument("--model", help="a model file (carematch train); else trained on the driver")
    ap.add_argument("--config", help="the command line's --config file")
    ap.add_argument("--sample", type=float, default=1.0)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--driver-memory", default="4g")
    a = ap.parse_args()

    # Local mode: the workers run this interpreter, which has carematch installed (on a
    # cluster, every executor needs the package: a wheel in the image, or --py-files).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (SparkSession.builder.master(a.master).appName("carematch link")
             .config("spark.sql.shuffle.partitions", str(a.partitions))
             .config("spark.driver.memory", a.driver_memory)
             .config("spark.ui.enabled", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    start = time.perf_counter()
    # Every column as text, as carematch reads a file (no schema inference).
    read = lambda path: spark.read.csv(path, header=True, escape='"')
    config = json.load(open(a.config)) if a.config else None
    run = carematch.spark.link(read(a.left), read(a.right), model=a.model, config=config,
                               sample=a.sample)
    # One file each, in the command line's order (pairs by left id, then right id).
    run.pairs.toPandas().to_csv(a.out, index=False, float_format="%.17g")
    if a.clusters:
        c = run.clusters.toPandas().rename(columns={"person_id": "cluster_id"})
        c.to_csv(a.clusters, index=False)
    doc = json.loads(run.kernel.to_json())
    values = sum(len(c) for c in doc["frequencies"]["counts"].values())
    print(f"spark link: {time.perf_counter() - start:.2f} s, pairs written to {a.out}; "
          f"broadcast kernel {len(run.kernel.to_json()):,} bytes ({values:,} term-frequency "
          f"values over {len(doc['frequencies']['counts'])} columns)")
    spark.stop()


if __name__ == "__main__":
    main()
