"""carematch on Apache Spark: the command line's link, run in parts by Spark.

carematch stays the kernel and Spark does the distribution (see the README's "Spark"):

1. each source's rows are normalised by carematch inside ``mapInArrow``, with one key column
   per blocking rule (``Kernel.prepare``);
2. the term frequencies are counted by Spark over both sources and handed back to the kernel,
   which is broadcast (config, model, rules and frequencies: one JSON document);
3. Spark's equi-joins on the key columns make the candidate pairs, each once (a rule skips
   the pairs an earlier rule made, as the batch blocker does);
4. carematch scores every pair inside ``mapInArrow`` (``Kernel.score``);
5. the pairs whose decisions depend on each other (rule matches and the model's matches) are
   grouped by connected component, found by Spark with iterative min-label propagation, and
   each component is decided whole by carematch (``Kernel.decide``), with the person ids of
   its records.

The pairs equal those of ``carematch link`` on the same files with the same model and config:
same pairs, decisions, rules and reasons, weights to the last bit.

>>> from pyspark.sql import SparkSession                       # doctest: +SKIP
>>> import carematch.spark                                     # doctest: +SKIP
>>> spark = SparkSession.builder.master("local[2]").getOrCreate()   # doctest: +SKIP
>>> read = lambda p: spark.read.csv(p, header=True, escape='"')      # doctest: +SKIP
>>> run = carematch.spark.link(read("gp.csv"), read("hospital.csv"), model="model.json")  # doctest: +SKIP
>>> run.pairs.write.csv("pairs")                               # doctest: +SKIP
"""

import json
import uuid
from typing import Any, NamedTuple, Optional

import pyarrow as pa
import pyarrow.compute as pc

from . import ConfigError, InputError, Kernel, Model, _config_arg

__all__ = ["link", "Linked", "PAIR_COLUMNS"]

#: The columns of the pairs, as the pairs file of ``carematch link`` has them.
PAIR_COLUMNS = ["left_id", "right_id", "match_weight", "match_probability", "decision", "rule",
                "reason"]

# Kernels made on this worker process, by the token of the run that broadcast them: a Python
# worker runs many tasks, and reads a kernel's JSON (with the frequencies) once.
_KERNELS = {}


class Linked(NamedTuple):
    """The result of ``link``: the pairs (``PAIR_COLUMNS``, ordered by left id then right
    id), every record's person id (``person_id``, ``source``: ``left`` or ``right``,
    ``record_id``), and the kernel that made them."""

    pairs: Any
    clusters: Any
    kernel: Kernel


def _kernel(token, broadcast):
    """The kernel of run ``token`` on this worker, read from its broadcast JSON once."""
    k = _KERNELS.get(token)
    if k is None:
        _KERNELS.clear()
        k = _KERNELS[token] = Kernel.from_json(broadcast.value)
    return k


def _to_arrow(df):
    """A Spark DataFrame collected to the driver as a pyarrow Table."""
    if hasattr(df, "toArrow"):
        return df.toArrow()
    return pa.Table.from_pandas(df.toPandas(), preserve_index=False)


def _strings_only(df, name):
    """Checks that every column of ``df`` is text, as a file's are."""
    bad = [f.name for f in df.schema.fields if f.dataType.typeName() != "string"]
    if bad:
        raise InputError(f"{name}: columns {bad} are not strings; read the files as text "
                         "(spark.read.csv without inferSchema) or cast them")


def _prepared_schema(df, doc):
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    extra = [StructField("_cm_id", StringType(), True), StructField("_cm_nhs", LongType(), True),
             StructField("_cm_person", StringType(), True)]
    extra += [StructField(t["column"], StringType(), True) for t in doc["term_frequencies"]]
    extra += [StructField(b["column"], StringType(), True) for b in doc["blocking"]]
    return StructType(df.schema.fields + extra)


def _prepare(df, side, token, bk, doc):
    """``df`` with the kernel's columns (step 1), each Arrow batch through carematch."""

    def run(batches):
        k = _kernel(token, bk)
        for b in batches:
            out = k.prepare(side, pa.Table.from_batches([b]))
            cols = list(b.columns) + [out.column(i).combine_chunks() for i in range(out.num_columns)]
            yield pa.RecordBatch.from_arrays(cols, names=b.schema.names + out.column_names)

    return df.mapInArrow(run, _prepared_schema(df, doc))


def _split(b, n_left, headers):
    """The left and right records of a batch of pairs whose columns are ``_cm_l<i>`` then
    ``_cm_r<i>``, as two Tables with the sources' own column names."""
    left = pa.Table.from_arrays([b.column(f"_cm_l{i}") for i in range(n_left)],
                                names=headers[0])
    right = pa.Table.from_arrays([b.column(f"_cm_r{i}") for i in range(len(headers[1]))],
                                 names=headers[1])
    return left, right


def _score(pairs, token, bk, headers):
    """Scores each pair (step 2) and keeps the pairs the run may write."""
    from pyspark.sql.types import BooleanType, DoubleType, StringType, StructField, StructType

    added = [("rule", StringType()), ("match_weight", DoubleType()),
             ("match_probability", DoubleType()), ("relevant", BooleanType()),
             ("decision", StringType()), ("reason", StringType())]
    schema = StructType(pairs.schema.fields + [StructField(n, t, True) for n, t in added])
    n_left = len(headers[0])

    def run(batches):
        k = _kernel(token, bk)
        for b in batches:
            left, right = _split(b, n_left, headers)
            s = k.score(left, right)
            keep = s.column("keep")
            cols = list(b.columns) + [s.column(n).combine_chunks() for n, _ in added]
            out = pa.RecordBatch.from_arrays(cols, names=b.schema.names + [n for n, _ in added])
            yield out.filter(keep.combine_chunks())

    return pairs.mapInArrow(run, schema)


def _decide(groups, token, bk, headers):
    """Decides whole components (step 3): the rows come sorted by component within each
    partition, and a component is decided once all its rows are in."""
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    out_fields = [("left_id", StringType()), ("right_id", StringType()),
                  ("match_weight", DoubleType()), ("match_probability", DoubleType()),
                  ("decision", StringType()), ("rule", StringType()), ("reason", StringType()),
                  ("left_person", StringType()), ("right_person", StringType())]
    schema = StructType([StructField(n, t, True) for n, t in out_fields])
    n_left = len(headers[0])

    def decide(k, t):
        left, right = _split(t, n_left, headers)
        d = k.decide(left, right)
        cols = {"left_id": t.column("left_id"), "right_id": t.column("right_id")}
        for n in ("match_weight", "match_probability", "decision", "rule", "reason",
                  "left_person", "right_person"):
            cols[n] = d.column(n)
        return pa.table([cols[n] for n, _ in out_fields], names=[n for n, _ in out_fields])

    def run(batches):
        k = _kernel(token, bk)
        pending = None
        for b in batches:
            t = pa.Table.from_batches([b])
            if pending is not None:
                t = pa.concat_tables([pending, t])
            comp = t.column("_cm_comp")
            last = comp[len(comp) - 1]
            # Rows of the last component may go on in the next batch: keep them for it.
            cut = pc.index(comp, last).as_py()
            ready, pending = t.slice(0, cut), t.slice(cut)
            if ready.num_rows:
                yield from decide(k, ready).to_batches()
        if pending is not None and pending.num_rows:
            yield from decide(k, pending).to_batches()

    return groups.mapInArrow(run, schema)


def _components(edges, spark_max_iterations=64):
    """Connected components of the graph whose edges are the rows (``a``, ``b``) of
    ``edges``: per vertex, the smallest vertex of its component (``v``, ``comp``), by
    iterative min-label propagation with Spark's own operators (joins and aggregates)."""
    from pyspark.sql import functions as F

    edges = edges.select("a", "b").localCheckpoint()
    both = edges.select(F.col("a").alias("v"), F.col("b").alias("w")).unionByName(
        edges.select(F.col("b").alias("v"), F.col("a").alias("w")))
    both = both.localCheckpoint()
    labels = (both.groupBy("v").agg(F.min("w").alias("comp"))
              .withColumn("comp", F.least("comp", "v")).localCheckpoint())
    for _ in range(spark_max_iterations):
        # Each vertex takes the smallest label among its neighbours' and its own.
        step = (both.join(labels.withColumnRenamed("v", "w").withColumnRenamed("comp", "lw"),
                          "w")
                .groupBy("v").agg(F.min("lw").alias("lw")))
        new = (labels.join(step, "v", "left")
               .select("v", F.least("comp", F.coalesce("lw", "comp")).alias("comp"))
               .localCheckpoint())
        changed = new.join(labels.withColumnRenamed("comp", "old"), "v").where(
            F.col("comp") != F.col("old")).limit(1).count()
        labels = new
        if changed == 0:
            return labels
    raise RuntimeError(f"connected components did not converge in {spark_max_iterations} "
                       "rounds")


def _frequencies(left, right, doc, rows):
    """The term frequencies of both sources, counted by Spark."""
    from pyspark.sql import functions as F

    counts = {}
    for t in doc["term_frequencies"]:
        c = t["column"]
        values = left.select(c).unionAll(right.select(c)).where(F.col(c).isNotNull())
        counts[c] = {r[0]: int(r[1]) for r in values.groupBy(c).count().collect()}
    return {"rows": rows, "counts": counts}


def _check_ids(df, name):
    """A record id on two rows of one source is an error, as in a file."""
    dup = df.groupBy("_cm_id").count().where("count > 1").limit(1).count()
    if dup:
        raise InputError(f"{name}: duplicate id: a record id is on more than one row")


def link(left, right, model: "Model | str | None" = None, config: Any = None,
         sample: float = 1.0, seed: int = 1, partitions: Optional[int] = None) -> Linked:
    """Links Spark DataFrame ``left`` with ``right`` (text columns, named as in the files
    ``carematch link`` reads) as ``carematch link`` links the files.

    ``model``: a ``Model``, a model file's path, or None to train one on the driver on a
    sample of each source (``sample``: the share of rows, drawn with ``seed``; 1.0 trains on
    everything, as the command line does). The deterministic rules are chosen from the same
    sample (its identifier columns). ``config``: the ``--config`` file's keys (a dict or JSON
    text): column mapping, rules, thresholds, ``one_to_one``, and for training, comparisons
    and blocking. ``partitions``: partitions of the pairs (default: Spark's
    ``spark.sql.shuffle.partitions``).

    Returns a ``Linked``: the pairs and person ids as DataFrames (computed when used), and
    the kernel (with the data's term frequencies). Raises ``InputError`` for non-text
    columns or a repeated record id, and carematch's exceptions as ``carematch.link`` does
    (inside a Spark job they arrive wrapped in Spark's exception, with carematch's message).
    """
    from pyspark.sql import functions as F

    spark = left.sparkSession
    _strings_only(left, "left")
    _strings_only(right, "right")
    cfg = json.loads(_config_arg(config)[0].decode("utf-8"))
    if sample <= 0 or sample > 1:
        raise ConfigError("sample must be a share of the rows, in (0, 1]")
    pick = (lambda df: df) if sample >= 1 else (lambda df: df.sample(fraction=sample, seed=seed))
    left_sample, right_sample = _to_arrow(pick(left)), _to_arrow(pick(right))
    if model is None:
        model = Model.train(left_sample, right_sample, config=cfg)
    elif isinstance(model, str):
        model = Model.load(model)
    kernel = Kernel.new(left_sample, right_sample, model, config=cfg)
    del left_sample, right_sample
    doc = json.loads(kernel.to_json())
    headers = doc["headers"]
    sc = spark.sparkContext

    # Step 1: normalise and key each source; count the term frequencies over both.
    token = uuid.uuid4().hex
    bk = sc.broadcast(kernel.to_json())
    lp = _prepare(left, 0, token, bk, doc).persist()
    rp = _prepare(right, 1, token, bk, doc).persist()
    _check_ids(lp, "left")
    _check_ids(rp, "right")
    doc["frequencies"] = _frequencies(lp, rp, doc, lp.count() + rp.count())
    kernel = Kernel.from_json(json.dumps(doc))
    token = uuid.uuid4().hex
    bk = sc.broadcast(kernel.to_json())

    # Step 2: the candidate pairs, each once: rule j's join less the pairs of rules before it.
    keys = [b["column"] for b in doc["blocking"]]
    lk = lp.select(F.col("_cm_id").alias("left_id"), *[F.col(k).alias("l" + k) for k in keys])
    rk = rp.select(F.col("_cm_id").alias("right_id"), *[F.col(k).alias("r" + k) for k in keys])
    parts = []
    for j, k in enumerate(keys):
        p = lk.where(F.col("l" + k).isNotNull()).join(
            rk.where(F.col("r" + k).isNotNull()), F.col("l" + k) == F.col("r" + k))
        for i in range(j):
            p = p.where(~F.coalesce(F.col("l" + keys[i]) == F.col("r" + keys[i]), F.lit(False)))
        parts.append(p.select("left_id", "right_id"))
    candidates = parts[0]
    for p in parts[1:]:
        candidates = candidates.unionAll(p)
    if partitions:
        candidates = candidates.repartition(partitions)
    lrec = lp.select(F.col("_cm_id").alias("left_id"),
                     *[F.col(f"`{h}`").alias(f"_cm_l{i}") for i, h in enumerate(headers[0])])
    rrec = rp.select(F.col("_cm_id").alias("right_id"),
                     *[F.col(f"`{h}`").alias(f"_cm_r{i}") for i, h in enumerate(headers[1])])
    with_records = candidates.join(lrec, "left_id").join(rrec, "right_id").select(
        "left_id", "right_id", *[f"_cm_l{i}" for i in range(len(headers[0]))],
        *[f"_cm_r{i}" for i in range(len(headers[1]))])
    scored = _score(with_records, token, bk, headers).persist()

    # Step 3: components of the rule and model matches, each decided whole.
    relevant = scored.where("relevant")
    edges = relevant.select(F.concat(F.lit("L"), "left_id").alias("a"),
                            F.concat(F.lit("R"), "right_id").alias("b"))
    labels = _components(edges)
    grouped = relevant.join(labels.withColumnRenamed("v", "_cm_v"),
                            F.concat(F.lit("L"), F.col("left_id")) == F.col("_cm_v"))
    grouped = grouped.withColumnRenamed("comp", "_cm_comp").drop("_cm_v")
    n = partitions or int(spark.conf.get("spark.sql.shuffle.partitions"))
    grouped = grouped.repartition(n, "_cm_comp").sortWithinPartitions("_cm_comp")
    decided = _decide(grouped, token, bk, headers).persist()
    others = scored.where("not relevant").select(*PAIR_COLUMNS)
    pairs = (decided.where(F.col("decision").isNotNull()).select(*PAIR_COLUMNS)
             .unionByName(others).orderBy("left_id", "right_id"))

    # Person ids: a decided component's, else the record's own.
    people = (decided.select(F.lit("left").alias("source"), F.col("left_id").alias("record_id"),
                             F.col("left_person").alias("p"))
              .unionByName(decided.select(F.lit("right").alias("source"),
                                          F.col("right_id").alias("record_id"),
                                          F.col("right_person").alias("p")))
              .dropDuplicates(["source", "record_id"]))
    records = (lp.select(F.lit("left").alias("source"), F.col("_cm_id").alias("record_id"),
                         F.col("_cm_person").alias("own"))
               .unionByName(rp.select(F.lit("right").alias("source"),
                                      F.col("_cm_id").alias("record_id"),
                                      F.col("_cm_person").alias("own"))))
    clusters = (records.join(people, ["source", "record_id"], "left")
                .select(F.coalesce("p", "own").alias("person_id"), "source", "record_id")
                .orderBy("person_id", "source", "record_id"))
    return Linked(pairs, clusters, kernel)
