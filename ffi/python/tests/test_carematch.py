"""The Python package over the C ABI: every wrapped function and its error paths.

Runs against the sample data shipped in examples/data and the pseudonym vectors of
tests/data/vectors.json (the same file the Rust and C tests check).
"""

import ctypes
import gc
import io
import json
import pathlib
import re
import threading
import warnings

import pandas as pd
import pyarrow as pa
import pytest

import carematch
from carematch import _ffi

ROOT = pathlib.Path(__file__).resolve().parents[3]
DATA = ROOT / "examples" / "data"


@pytest.fixture(scope="module")
def gp():
    return pd.read_csv(DATA / "gp.csv", dtype=str)


@pytest.fixture(scope="module")
def hospital():
    return pd.read_csv(DATA / "hospital.csv", dtype=str)


@pytest.fixture(scope="module")
def truth():
    return pd.read_csv(DATA / "truth.csv", dtype=str)


@pytest.fixture(scope="module")
def model(gp, hospital):
    with carematch.Model.train(gp, hospital) as m:
        yield m


def test_version_and_declared_functions_match_the_header():
    header = (ROOT / "ffi" / "include" / "carematch.h").read_text()
    assert f'#define CAREMATCH_VERSION "{carematch.__version__}"' in header
    assert _ffi.lib.carematch_version().decode() == carematch.__version__
    exported = set(re.findall(r"^(?:carematch_status|void|const char \*) ?(carematch_\w+)\(",
                              header, re.M))
    assert len(exported) > 40
    assert exported == set(_ffi.FUNCTIONS), exported ^ set(_ffi.FUNCTIONS)


def test_numbers_match_the_header():
    """Status codes come from the library; role and decision numbers are written once, in
    _ffi (they are #defines, not library symbols): all three agree with the header."""
    header = (ROOT / "ffi" / "include" / "carematch.h").read_text()

    def defines(prefix):
        return {name: int(code) for name, code in
                re.findall(rf"^#define {prefix}(\w+) (\d+)$", header, re.M)}

    assert {f"CAREMATCH_{k}": v for k, v in defines("CAREMATCH_").items()
            if not k.startswith(("ROLE_", "DECISION_", "VERSION_"))} == _ffi.STATUS
    assert defines("CAREMATCH_ROLE_") == _ffi.ROLE
    assert defines("CAREMATCH_DECISION_") == _ffi.DECISION
    assert carematch.Batch.ROLE_BY_NAME == 0 and carematch.Batch.ROLE_ADDRESS == 8
    assert carematch.ROLES["dob"] == carematch.ROLES["date_of_birth"] == 4
    assert carematch.DECISIONS == {1: "match", 2: "review", 3: "ambiguous", 4: "no_match"}


def test_each_status_is_an_exception_class():
    codes = {cls.status: cls for cls in (
        carematch.NullArgumentError, carematch.InvalidUtf8Error,
        carematch.InvalidArgumentError, carematch.BufferTooSmallError, carematch.InputError,
        carematch.IoError, carematch.PanicError, carematch.ConfigError,
        carematch.MemoryLimitError)}
    assert sorted(codes) == list(range(1, 10))
    # Every status the library names has its exception.
    assert sorted(c for c in _ffi.STATUS.values() if c) == sorted(codes)
    for status, cls in codes.items():
        assert issubclass(cls, carematch.CarematchError)
        assert cls("x").status_name == _ffi.lib.carematch_status_name(status).decode()
    assert issubclass(carematch.IoError, OSError)
    assert issubclass(carematch.InputError, ValueError)
    assert issubclass(carematch.MemoryLimitError, MemoryError)


def test_link_matches_the_command_line_and_the_truth(gp, hospital, truth, model):
    pairs = carematch.link(gp, hospital, model)
    assert list(pairs.columns) == ["left_id", "right_id", "match_weight", "match_probability",
                                   "decision", "rule", "reason"]
    # Issue 11: every pair that is not a match says why; a match says nothing.
    assert set(pairs[pairs.decision == "match"].reason) == {""}
    assert (pairs[pairs.decision != "match"].reason != "").all()
    assert len(pairs) > 4000
    assert set(pairs.decision) <= {"match", "review", "ambiguous"}
    matched = pairs[pairs.decision == "match"]
    true = set(zip(truth.iloc[:, 0], truth.iloc[:, 1]))
    hits = sum((a, b) in true or (b, a) in true for a, b in zip(matched.left_id,
                                                               matched.right_id))
    assert hits / len(matched) > 0.99
    with carematch.link_result(gp, hospital, model) as r:
        e = r.evaluate(truth)
        assert e["precision"] > 0.99 and e["recall"] > 0.95
        assert e["true_positives"] == hits
        assert r.evaluate([]) ["false_negatives"] == 0
        # Regression (issue 10, defect 18): a truth whose first two columns are not the
        # ids of true pairs gave F1 0.0 silently; it is refused, naming the fix.
        wrong = pd.DataFrame({"n": range(len(truth)), "left_id": truth.iloc[:, 0]})
        with pytest.raises(carematch.InvalidArgumentError, match="none of the .* true pairs"):
            r.evaluate(wrong)
        # Trained in place gives the same pairs as the model trained on the same inputs.
    again = carematch.link(gp, hospital)
    pd.testing.assert_frame_equal(pairs, again)


def test_inputs_as_frames_tables_dicts_and_batches_agree(gp, hospital, model):
    small_gp, small_h = gp.head(2000), hospital.head(1500)
    want = carematch.link(small_gp, small_h, model)
    as_table = carematch.link(pa.Table.from_pandas(small_gp), pa.Table.from_pandas(small_h),
                              model)
    as_dict = carematch.link(small_gp.to_dict("list"), small_h.to_dict("list"), model)
    columns = carematch.Batch.from_columns(small_gp.to_dict("list"), "gp")
    as_batch = carematch.link(columns, carematch.Batch.of(small_h), model)
    for got in (as_table, as_dict, as_batch):
        pd.testing.assert_frame_equal(got, want)
    assert len(columns) == 2000
    with pytest.raises(TypeError):
        carematch.Batch.of([1, 2, 3])


def test_integer_nhs_numbers_with_gaps_are_not_written_as_floats(model):
    left = pd.DataFrame({"id": ["A1", "A2"], "nhs_number": [9434765919, None],
                         "dob": ["1980-02-01", "1990-01-01"]})
    right = pd.DataFrame({"id": ["B1"], "nhs_number": ["943 476 5919"], "dob": ["01/02/1980"]})
    assert left.nhs_number.dtype.kind == "f"
    pairs = carematch.link(left, right, model)
    assert list(pairs.rule) == ["nhs-dob"]


def test_arrow_streams_are_read_in_place_and_agree_with_frames(gp, hospital, model):
    """Issue 13: any object exporting an Arrow stream is read by the library itself (no CSV in
    between): a pyarrow RecordBatchReader of several record batches, dictionary-encoded and
    large strings, a polars DataFrame; results equal the pandas frames'."""
    small_gp, small_h = gp.head(2000), hospital.head(1500)
    want = carematch.link(small_gp, small_h, model)
    table = pa.Table.from_pandas(small_gp, preserve_index=False)
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=300))
    as_reader = carematch.link(reader, pa.Table.from_pandas(small_h, preserve_index=False), model)
    pd.testing.assert_frame_equal(as_reader, want)
    cols = {}
    for i, name in enumerate(table.column_names):
        col = table.column(name)
        cols[name] = col.dictionary_encode() if i % 2 else col.cast(pa.large_string())
    mixed = carematch.link(pa.table(cols), small_h, model)
    pd.testing.assert_frame_equal(mixed, want)
    pl = pytest.importorskip("polars")
    as_polars = carematch.link(pl.from_pandas(small_gp), pl.from_pandas(small_h), model)
    pd.testing.assert_frame_equal(as_polars, want)


def test_results_come_out_as_arrow_and_agree_with_the_pairs_file(gp, hospital, model):
    """Issue 13: the pairs come out of the library as an Arrow stream (to_arrow, to_frame),
    at full precision; the pairs file text (csv) has the same rows, rounded."""
    with carematch.link_result(gp.head(3000), hospital.head(2000), model) as r:
        table = r.to_arrow()
        assert table.column_names == ["left_id", "right_id", "match_weight",
                                      "match_probability", "decision", "rule", "reason"]
        assert table.schema.field("match_weight").type == pa.float64()
        assert table.num_rows == len(r) > 500
        text = r.csv()
        people = r.clusters()
        assert list(people.columns) == ["person_id", "source", "record_id"]
        assert len(people) == 5000
        left = people[people.source == people.source.iloc[0]].set_index("record_id").person_id
        some = gp.head(3000).iloc[:, 0]
        for row in (0, 1, 2999):
            assert left[some.iloc[row]] == r.person_id(0, row)
    from_file = pd.read_csv(io.StringIO(text), dtype={"left_id": str, "right_id": str},
                            keep_default_na=False, na_values={"match_weight": [""]})
    frame = table.to_pandas()
    assert list(from_file.left_id) == list(frame.left_id)
    assert list(from_file.rule) == list(frame.rule)
    assert (abs(from_file.match_weight - frame.match_weight) <= 5e-5).all()
    assert (abs(from_file.match_probability - frame.match_probability) <= 5e-9).all()


def test_results_export_arrow_streams_with_explanations_and_to_polars(gp, hospital, model):
    """Issue 13: a Result is an Arrow stream itself (pyarrow, polars and DuckDB take it);
    with explain=True the waterfall columns add up to the pair's match weight."""
    with carematch.link_result(gp.head(2000), hospital.head(1500), model) as r:
        plain = pa.table(r)  # through __arrow_c_stream__
        assert plain.equals(r.to_arrow())
        wide = r.to_arrow(explain=True)
        assert wide.column_names[:7] == plain.column_names
        assert wide.column_names[7] == "prior"
        frame = wide.to_pandas()
        scored = frame[frame.match_weight.notna()]
        assert len(scored) > 100
        parts = scored["prior"] + sum(scored[c] + scored[c[:-len("_weight")] + "_tf"]
                                      for c in frame.columns if c.endswith("_weight")
                                      and c != "match_weight")
        assert (abs(parts - scored.match_weight) < 1e-6).all()
        assert r.to_pandas().equals(r.to_frame())
        assert r.clusters_arrow().num_rows == 3500
        with pytest.raises(TypeError, match="explain must be True or False"):
            r.to_arrow(explain="yes")
        pl = pytest.importorskip("polars")
        as_polars = r.to_polars()
        assert isinstance(as_polars, pl.DataFrame) and as_polars.height == len(r)
        assert list(as_polars["left_id"]) == list(plain.column("left_id").to_pylist())


def test_batches_export_arrow_and_encoded_records_round_trip(gp, hospital):
    """Issue 13: encoded records leave the library as Arrow (to_arrow, to_pandas), hold no
    clear text, and link the same when read back in from the table (as a Parquet file
    written by pyarrow would be)."""
    with carematch.Pseudonymiser(b"k" * 32) as p:
        eg, eh = p.encode(gp.head(3000)), p.encode(hospital.head(2000))
    table = eg.to_arrow()
    assert table.num_rows == 3000 and table.column_names[0] == "id"
    assert table.column("id").null_count == 0
    assert not {"given_name", "surname", "postcode"} & set(table.column_names)
    clear = set(gp.head(3000).surname.dropna())
    for name in table.column_names[2:]:
        assert not clear & set(table.column(name).drop_null().to_pylist()), name
    want = carematch.link(eg, eh)
    assert len(want) > 300
    pd.testing.assert_frame_equal(carematch.link(table, eh.to_pandas()), want)
    # A batch made from CSV text or column by column exports its columns as strings.
    text = carematch.Batch.from_csv_text("id,surname\nA,Smith\nB,\n")
    assert text.to_arrow().to_pydict() == {"id": ["A", "B"], "surname": ["Smith", None]}
    cols = carematch.Batch.from_columns({"id": ["A"], "dob": ["1980-01-02"]})
    assert cols.to_pandas().to_dict("list") == {"id": ["A"], "dob": ["1980-01-02"]}


def test_arrow_input_gets_the_cores_header_checks():
    """The core's header check (each name once) holds for Arrow data as for files: a table
    with two columns of one name is an InputError naming the column, not a silent pick."""
    ids, names = pa.array(["A", "B"]), pa.array(["Ann", "Bob"])
    table = pa.Table.from_arrays([ids, names, names], names=["id", "surname", "surname"])
    with pytest.raises(carematch.InputError, match="two columns have this header"):
        carematch.dedupe(table)


def test_labels_and_previous_clusters_from_python(gp, hospital, model, tmp_path):
    """Issue 13: what the CLI takes as files, Python passes as frames: labels (known true
    pairs: m from them, as `train --labels`) and an earlier run's person ids to keep."""
    truth = pd.read_csv(DATA / "truth.csv", dtype=str)
    labelled = carematch.Model.train(gp, hospital, labels=truth)
    training = json.loads(labelled.to_json())["training"]
    assert training["labelled_pairs"] == len(truth)
    cli = json.loads(carematch.Model.train(gp, hospital).to_json())["training"]
    assert cli["labelled_pairs"] == 0
    as_list = carematch.Model.train(gp, hospital, labels=list(truth.itertuples(index=False)))
    assert as_list.to_json() == labelled.to_json()
    with pytest.raises(carematch.ConfigError, match="entry 1: the right id is not in the right"):
        carematch.Model.train(gp, hospital, labels=[truth.iloc[0].tolist(), ["GP00000001", "no"]])
    with pytest.raises(carematch.ConfigError) as e:
        carematch.link(gp.head(100), hospital.head(100), labels=[["Secret-Id", "x"]])
    assert "Secret-Id" not in str(e.value)
    # Person ids that last: the earlier run's ids, renamed, are kept for the same people.
    small_gp, small_h = gp.head(3000), hospital.head(2000)
    with carematch.link_result(small_gp, small_h, model) as first:
        earlier = first.clusters()
    renamed = {p: f"PERSON-{i}" for i, p in enumerate(sorted(set(earlier.person_id)))}
    earlier["person_id"] = earlier.person_id.map(renamed)
    with carematch.link_result(small_gp, small_h, model, previous_clusters=earlier) as again:
        now = again.clusters()
        assert again.person_id(0, 0) == earlier.set_index("record_id").person_id[
            small_gp.iloc[0, 0]]
    merged = now.merge(earlier, on=["source", "record_id"], suffixes=("", "_before"))
    assert len(merged) == 5000
    assert (merged.person_id == merged.person_id_before).all()
    with pytest.raises(ValueError, match="row 0 has 2 values, not 3"):
        carematch.link_result(small_gp, small_h, model, previous_clusters=[("a", "b")])


REVIEW_COLUMNS = ["left_id", "right_id", "decision", "status", "reason", "match_weight",
                  "match_probability"]


def test_review_queue_as_a_frame_and_decisions_given_back(gp, hospital, model, truth):
    """Python gets what `carematch review` writes (the pairs to decide, side by side, and an
    audit sample of matches) and gives the decisions back with reviewed=, as --reviewed."""
    with carematch.link_result(gp, hospital, model) as r:
        pairs = r.to_pandas()
        queue = carematch.review(r)
        audited = r.review(audit=25, seed=3)
        table = r.review_arrow(audit=25, seed=3)
        assert r.review(audit=25, seed=3).equals(audited)
        other_seed = r.review(audit=25, seed=4)
    to_decide = pairs[pairs.decision != "match"]
    assert list(queue.columns[:7]) == REVIEW_COLUMNS
    values = list(queue.columns[7:])
    assert values[:4] == ["left_given_name", "right_given_name", "left_surname", "right_surname"]
    assert values[0::2] == ["left_" + c[6:] for c in values[1::2]]
    assert len(queue) == len(to_decide) > 0
    assert list(zip(queue.left_id, queue.right_id)) == list(zip(to_decide.left_id,
                                                                to_decide.right_id))
    assert list(queue.status) == list(to_decide.decision)
    assert queue.decision.isna().all()
    assert queue.left_id.dtype == pairs.left_id.dtype  # pandas' own string type
    assert queue.match_weight.dtype == "float64"
    tail = audited.iloc[len(to_decide):]
    assert len(tail) == 25 and (tail.status == "match").all() and (tail.reason == "audit").all()
    assert list(tail.left_id) != list(other_seed.iloc[len(to_decide):].left_id)
    assert table.schema.field("decision").type == pa.string()
    assert table.schema.field("match_weight").type == pa.float64()
    assert table.num_rows == len(audited) and table.column_names == list(audited.columns)

    # Decide every row from the truth, but leave the first undecided.
    true = set(zip(truth.left_id, truth.right_id))
    decided = audited.copy()
    decided["decision"] = ["match" if p in true else "non-match"
                           for p in zip(decided.left_id, decided.right_id)]
    decided.loc[decided.index[0], "decision"] = None
    verdicts = dict(zip(zip(decided.left_id, decided.right_id), decided.decision))
    again = carematch.link(gp, hospital, model, reviewed=decided)
    now = {(a, b): (d, why) for a, b, d, why in zip(again.left_id, again.right_id,
                                                     again.decision, again.reason)}
    gone = [p for p, v in verdicts.items() if v == "non-match"]
    linked = [p for p, v in verdicts.items() if v == "match"]
    assert gone and linked
    assert not any(p in now for p in gone)
    assert all(now[p] == ("match", "reviewed:match") for p in linked)
    first = (decided.left_id.iloc[0], decided.right_id.iloc[0])
    assert now[first] == (decided.status.iloc[0], decided.reason.iloc[0])
    assert len(again) == len(pairs) - len(gone)
    # The same decisions as a pyarrow table, a polars frame or a list of tuples.
    as_list = [(a, b, d) for a, b, d in zip(decided.left_id, decided.right_id,
                                            decided.decision)]
    pd.testing.assert_frame_equal(carematch.link(gp, hospital, model, reviewed=as_list), again)
    as_table = pa.Table.from_pandas(decided[["left_id", "right_id", "decision"]])
    with carematch.link_result(gp, hospital, model, reviewed=as_table) as r2:
        pd.testing.assert_frame_equal(r2.to_pandas(), again)
        # Only the undecided pair is left to decide.
        left = r2.review()
        assert list(zip(left.left_id, left.right_id)) == [first]
    pl = pytest.importorskip("polars")
    pd.testing.assert_frame_equal(
        carematch.link(gp, hospital, model, reviewed=pl.from_pandas(decided)), again)


def test_reviewed_matches_refine_a_model_trained_in_place(gp, hospital, truth):
    """As a trained `link --reviewed` run: with no model given, the pairs decided match also
    refine the m of the model trained first, so the weights move."""
    small_gp, small_h = gp.head(3000), hospital.head(2000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", carematch.DataQualityWarning)
        with carematch.link_result(small_gp, small_h) as r:
            base = r.to_pandas()
            queue = r.review()
        true = set(zip(truth.left_id, truth.right_id))
        rows = [(a, b, "match") for a, b in zip(queue.left_id, queue.right_id) if (a, b) in true]
        assert rows
        again = carematch.link(small_gp, small_h, reviewed=rows)
    both = base.merge(again, on=["left_id", "right_id"], suffixes=("", "_after"))
    assert (both.match_weight - both.match_weight_after).abs().max() > 0.01
    assert set(again[again.reason == "reviewed:match"].left_id) == {a for a, _, _ in rows}


def test_reviewed_decisions_errors_name_the_row_and_dedupe_takes_them(gp, hospital, model):
    small_gp, small_h = gp.head(300), hospital.head(300)
    bad = [("GP00000001", "H00000001", "match")] * 3 + [("GP00000002", "H00000002",
                                                         "Secret-Maybe")]
    with pytest.raises(carematch.ConfigError, match='config "reviewed": entry 3: the decision'
                       ) as e:
        carematch.link(small_gp, small_h, model, reviewed=bad)
    assert "Secret" not in str(e.value) and "GP00000002" not in str(e.value)
    with pytest.raises(carematch.ConfigError, match="entry 0: the right id is empty"):
        carematch.link(small_gp, small_h, model, reviewed=[("GP00000001", None, "unsure")])
    with pytest.raises(ValueError, match="missing: decision"):
        carematch.link(small_gp, small_h, model,
                       reviewed=pd.DataFrame({"left_id": ["a"], "right_id": ["b"]}))
    with pytest.raises(ValueError, match="row 0 has 2 values, not 3"):
        carematch.link(small_gp, small_h, model, reviewed=[("a", "b")])
    with pytest.raises(TypeError, match="result must be a carematch.Result"):
        carematch.review(small_gp)
    with carematch.link_result(small_gp, small_h, model) as r:
        with pytest.raises(OverflowError, match="audit must be in 0"):
            r.review(audit=-1)
        with pytest.raises(OverflowError, match="seed must be in 0..=18446744073709551615"):
            r.review_arrow(seed=2**64)
        with pytest.raises(TypeError, match="audit must be an int"):
            carematch.review(r, audit=True)
    # A dedupe: the review queue's pairs, decided non-match, are gone.
    with carematch.dedupe_result(hospital, model) as d:
        queue = carematch.review(d, audit=3)
        before = len(d)
    assert len(queue) > 3 and (queue.left_id < queue.right_id).all()
    queue["decision"] = "non-match"
    after = carematch.dedupe(hospital, model, reviewed=queue)
    assert len(after) == before - len(queue)
    with carematch.dedupe_result(hospital, model, reviewed=queue) as d:
        assert len(carematch.review(d)) == 0


def test_config_from_python_maps_columns_sets_thresholds_and_one_to_one(gp, hospital, model):
    """Issue 13: everything a --config file says, Python can say, as a dict."""
    renamed = gp.head(3000).rename(columns={"rec_id": "Patient Ref", "given_name": "Forename 1"})
    small_h = hospital.head(2000)
    with pytest.raises(carematch.InputError, match="id"):
        carematch.link(renamed, small_h, model)
    mapping = {"columns": {"Patient Ref": "id", "Forename 1": "given_name"}}
    mapped = carematch.link(renamed, small_h, model, config=mapping)
    pd.testing.assert_frame_equal(mapped, carematch.link(gp.head(3000), small_h, model))
    strict = carematch.link(gp.head(3000), small_h, model,
                            config={"thresholds": {"match_probability": 0.999999}})
    assert (strict.decision == "match").sum() < (mapped.decision == "match").sum()
    one = carematch.link(gp.head(3000), small_h, model, config=json.dumps({"one_to_one": True}))
    matched = one[one.decision == "match"]
    assert matched.left_id.is_unique and matched.right_id.is_unique
    with pytest.raises(carematch.ConfigError, match="match_probabilty"):
        carematch.link(gp.head(10), small_h.head(10), model,
                       config={"thresholds": {"match_probabilty": 0.9}})
    with pytest.raises(TypeError, match="config must be a dict"):
        carematch.link(gp.head(10), small_h.head(10), model, config=["columns"])
    d = carematch.dedupe(renamed.head(500), model, config=mapping)
    assert list(d.columns)[:2] == ["left_id", "right_id"]
    trained = carematch.Model.train(renamed.head(2000), small_h,
                                    config=dict(mapping, u_pairs=50000, seed=2))
    assert json.loads(trained.to_json())["comparisons"]


def test_index_query_explains_and_answers_a_frame(gp, hospital, model):
    """Issue 13: Index.query(explain=True) gives the link's own numbers; query_many answers a
    frame; a frame passed to query is a TypeError saying what to use."""
    with carematch.Index.build(gp, model) as ix:
        q = {"id": "H00000002", "first_name": "Nathan", "last_name": "Ellis",
             "dob": "13/01/1982", "gender": "Male", "postcode": "RM3 1AZ"}
        a = ix.query(q, limit=2, explain=True)
        best = a["candidates"][0]
        e = best["explanation"]
        total = e["prior"] + sum(c["weight"] + c["tf"] for c in e["comparisons"])
        assert abs(total - best["match_weight"]) < 1e-3  # the answer rounds to 3 decimals
        assert abs(e["match_weight"] - total) < 1e-9
        assert "explanation" not in ix.query(q, limit=2)["candidates"][0]
        everyone = ix.query(q, limit=5, min_probability=0.0)
        assert len(everyone["candidates"]) >= len(ix.query(q, limit=5)["candidates"])
        with pytest.raises(ValueError, match="min_probability"):
            ix.query(q, min_probability=2)
        frame = hospital.head(40)
        answers = ix.query_many(frame)
        assert list(answers.query_id.unique()) == list(frame.iloc[:, 0])
        one = ix.query(frame.iloc[7].to_dict(), limit=1)
        row = answers[answers.query_id == one["id"]].iloc[0]
        assert row.decision == one["decision"]
        if one["candidates"]:
            assert row.candidate_id == one["candidates"][0]["id"]
        from_arrow = ix.query_many(pa.Table.from_pandas(frame, preserve_index=False))
        pd.testing.assert_frame_equal(from_arrow, answers)
        with pytest.raises(TypeError, match="query_many"):
            ix.query(frame)


def test_explain_pair_gives_the_links_numbers_from_the_whole_inputs(gp, hospital, model):
    """Issue 13: explain_pair on the inputs the link ran on gives the link's own weight; on
    one-row frames (whose term frequencies are not the population's) it warns."""
    small_gp, small_h = gp.head(3000), hospital.head(2000)
    with carematch.link_result(small_gp, small_h, model) as r:
        pairs = r.to_frame()
        for i in (0, 10, 100):
            li = list(small_gp.iloc[:, 0]).index(pairs.left_id[i])
            ri = list(small_h.iloc[:, 0]).index(pairs.right_id[i])
            e = model.explain_pair(small_gp, small_h, li, ri)
            assert e["match_weight"] == pairs.match_weight[i] == r.explain(i)["match_weight"]
    with pytest.warns(UserWarning, match="Result.explain"):
        model.explain_pair(small_gp.iloc[[li]], small_h.iloc[[ri]])


def test_typed_arrow_columns_read_as_a_file_would_hold_them(model):
    """Floats with gaps (an NHS number), NaN, timestamps (a date of birth) and integers."""
    import datetime as dt
    left = pa.table({
        "id": ["A1", "A2", "A3"],
        "nhs_number": pa.array([9434765919.0, None, float("nan")], pa.float64()),
        "dob": pa.array([dt.datetime(1980, 2, 1), dt.datetime(1990, 1, 1), None],
                        pa.timestamp("ns")),
    })
    right = pa.table({"id": pa.array([7], pa.int64()),
                      "nhs_number": pa.array([9434765919], pa.int64()),
                      "dob": pa.array([dt.date(1980, 2, 1)], pa.date32())})
    pairs = carematch.link(left, right, model)
    assert list(pairs.rule) == ["nhs-dob"]
    assert list(pairs.right_id) == ["7"]
    with pytest.raises(TypeError, match="__arrow_c_stream__"):
        carematch.Batch.of(object())


def test_result_accessors(gp, hospital, model):
    with carematch.link_result(gp, hospital, model) as r:
        n = len(r)
        frame = r.to_frame()
        assert n == len(frame)
        all_pairs = r.pairs()
        assert len(all_pairs) == n
        first = r.pair(0)
        # pair(i) and pairs() give the same thing: dicts, decisions and rules by name.
        assert first == all_pairs[0]
        assert r.pair(n - 1) == all_pairs[-1]
        assert [p["decision"] for p in all_pairs] == list(frame.decision)
        assert [p["rule"] or "" for p in all_pairs] == list(frame.rule)
        assert r.record_id(0, first["left"]) == frame.left_id[0]
        assert r.record_id(1, first["right"]) == frame.right_id[0]
        k = next(i for i in range(n) if frame.decision[i] == "match")
        p = r.pair(k)
        assert r.person_id(0, p["left"]) == r.person_id(1, p["right"])
        e = r.explain(k)
        assert abs(e["match_weight"] - frame.match_weight[k]) < 1e-3
        assert sum(c["weight"] + c["tf"] for c in e["comparisons"]) + e["prior"] == \
            pytest.approx(e["match_weight"], abs=1e-9)
        assert r.rule_name(0) in {p["rule"] for p in all_pairs}
        with pytest.raises(carematch.InvalidArgumentError, match="pair"):
            r.pair(n)
        with pytest.raises(carematch.InvalidArgumentError):
            r.explain(n)
        with pytest.raises(carematch.InvalidArgumentError, match="no rule"):
            r.rule_name(999)
        with pytest.raises(carematch.InvalidArgumentError, match="past the batch"):
            r.record_id(0, 10**8)
        with pytest.raises(carematch.InvalidArgumentError, match="no side"):
            r.person_id(7, 0)
    with pytest.raises(ValueError, match="closed"):
        len(r)


def test_invalid_values_are_reported_not_silently_dropped(gp, hospital, model):
    with pytest.warns(carematch.DataQualityWarning, match="invalid values") as w:
        carematch.link(gp, hospital, model)
    assert "check digit" in str(w[0].message)
    with carematch.link_result(gp, hospital, model) as r:
        text, invalid = r.quality()
        assert invalid >= 137 and "nhs_number" in text
    clean = pd.DataFrame({"id": ["A1"], "surname": ["Smith"]})
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        carematch.dedupe(clean)


def test_dedupe(hospital, model):
    pairs = carematch.dedupe(hospital)
    assert len(pairs) > 0
    assert all(a < b for a, b in zip(pairs.left_id, pairs.right_id))
    with carematch.dedupe_result(hospital) as r:
        assert len(r) == len(pairs)


def test_model_json_file_and_errors(model, tmp_path):
    text = model.to_json()
    assert json.loads(text)["comparisons"]
    back = carematch.Model.from_json(text)
    assert back.to_json() == text
    path = tmp_path / "model.json"
    back.save(path)
    assert carematch.Model.load(path).to_json() == text
    with pytest.raises(carematch.ConfigError):
        carematch.Model.from_json('{"format": "nope"}')
    with pytest.raises(carematch.IoError, match="missing.json"):
        carematch.Model.load(tmp_path / "missing.json")
    with pytest.raises(carematch.IoError, match="no-such-dir"):
        back.save(tmp_path / "no-such-dir" / "m.json")
    back.close()
    back.close()  # twice is fine
    with pytest.raises(ValueError, match="closed"):
        back.to_json()


def test_bad_input_names_the_problem_not_the_value(tmp_path):
    with pytest.raises(carematch.InputError, match="id") as e:
        carematch.dedupe(pd.DataFrame({"surname": ["Okonkwo-Secret"]}))
    assert "Okonkwo" not in str(e.value)
    with pytest.raises(carematch.InputError, match="duplicate id"):
        carematch.dedupe(pd.DataFrame({"id": ["A", "A"], "surname": ["x", "y"]}))
    with pytest.raises(carematch.InputError, match="ragged row"):
        carematch.Batch.from_csv_text("id,surname\nA1,Smith,Secret\n", "mem.csv")
    with pytest.raises(carematch.InputError, match="not valid UTF-8"):
        carematch.Batch.from_csv_text(b"id,surname\nA1,Z\xf6e\n")
    with pytest.raises(carematch.IoError, match="nowhere.csv"):
        carematch.Batch.read_csv(tmp_path / "nowhere.csv")
    with pytest.raises(carematch.InvalidArgumentError, match="rows"):
        carematch.Batch.from_columns({"id": ["A", "B"], "surname": ["x"]})
    assert len(carematch.Batch.read_csv(DATA / "gp.csv")) == 8064


def test_read_csv_opens_files_as_the_command_line_does(gp, hospital, model, tmp_path):
    """Issue 13: Batch.read_csv reads what the command line reads, through the same core
    code: a gzipped TSV, a semicolon file, and Parquet (by name or by its magic bytes) link
    as the CSV files do; CSV text in memory finds its delimiter too."""
    import gzip
    import pyarrow.parquet as papq
    small_gp, small_h = gp.head(2000), hospital.head(1500)
    want = carematch.link(small_gp, small_h, model)
    tsv = tmp_path / "gp.tsv.gz"
    with gzip.open(tsv, "wt", newline="") as f:
        small_gp.to_csv(f, sep="\t", index=False)
    semi = tmp_path / "hospital.txt"
    small_h.to_csv(semi, sep=";", index=False)
    got = carematch.link(carematch.Batch.read_csv(tsv), carematch.Batch.read_csv(semi), model)
    pd.testing.assert_frame_equal(got, want)
    papq.write_table(pa.Table.from_pandas(small_gp, preserve_index=False).cast(
        pa.schema([(c, pa.string()) for c in small_gp.columns])), tmp_path / "gp.parquet")
    (tmp_path / "gp.parquet").rename(tmp_path / "gp.data")  # found by its magic bytes
    got = carematch.link(carematch.Batch.read_csv(tmp_path / "gp.data"), small_h, model)
    pd.testing.assert_frame_equal(got, want)
    text = small_h.to_csv(sep="\t", index=False)
    got = carematch.link(small_gp, carematch.Batch.from_csv_text(text, "h"), model)
    pd.testing.assert_frame_equal(got, want)


def test_raw_abi_errors_become_exceptions():
    """What Python strings cannot produce: invalid UTF-8 and NULL, through the raw calls."""
    out = ctypes.c_void_p()
    status = _ffi.lib.carematch_batch_new(b"\xff", 1, ctypes.byref(out))
    with pytest.raises(carematch.InvalidUtf8Error):
        carematch._check(status)
    with pytest.raises(carematch.NullArgumentError):
        carematch._check(_ffi.lib.carematch_batch_new(b"x", 1, None))
    with pytest.raises(carematch.NullArgumentError):
        carematch._check(_ffi.lib.carematch_model_train(None, None, ctypes.byref(out)))


def test_pseudonymiser_vectors_and_encoded_linkage(gp, hospital):
    v = json.loads((ROOT / "tests" / "data" / "vectors.json").read_text())
    key = bytes.fromhex(v["key_hex"])
    with carematch.Pseudonymiser(key, project=v["project"], key_version=v["key_version"]) as p:
        for t in v["tokens"]:
            assert p.token(t["field"], t["value"]) == t["token"], t["field"]
        for b in v["blooms"]:
            assert p.token(b["field"], b["value"]) == b["bloom"], b["field"]
        with pytest.raises(carematch.InvalidArgumentError, match="no encoded column"):
            p.token("nope.tok", "x")
        eg, eh = p.encode(gp), p.encode(hospital)
        assert len(eg) == len(gp)
        pairs = carematch.link(eg, eh)
        assert len(pairs) > 4000
        # Regression (issue 10, defect 8): an encoded and a clear source were linked with
        # status OK and no pairs; the core refuses the mix for every entry point.
        with pytest.raises(carematch.CarematchError, match="scheme"):
            carematch.link(eg, hospital)
        tokenised = p.encode(gp.head(5), tokenise_id=True)
        assert len(tokenised) == 5
    with pytest.raises(carematch.InvalidArgumentError, match="32 bytes"):
        carematch.Pseudonymiser(b"short")


def test_index_query_insert_update_remove_save_load(gp, model, tmp_path):
    with carematch.Index.build(gp, model, person_ids=True) as ix:
        assert len(ix) == 8064
        q = {"id": "H00000002", "first_name": "Nathan", "last_name": "Ellis",
             "dob": "13/01/1982", "gender": "Male", "postcode": "RM3 1AZ"}
        a = ix.query(q, limit=3)
        assert a["id"] == "H00000002" and a["decision"] == "match"
        assert a["candidates"][0]["id"] == "GP00001808"
        assert 1 <= len(a["candidates"]) <= 3
        assert "person_id" in a["candidates"][0] and "by_rule" in a["candidates"][0]
        new = dict(q, id="NEW-1")
        ix.insert(new)
        assert len(ix) == 8065
        with pytest.raises(carematch.InvalidArgumentError, match="already holds"):
            ix.insert(new)
        ix.update(dict(new, dob="1990-01-01"))
        ix.remove("NEW-1")
        with pytest.raises(carematch.InvalidArgumentError, match="no record"):
            ix.remove("NEW-1")
        with pytest.raises(carematch.InvalidArgumentError, match="no record"):
            ix.update(new)
        with pytest.raises(carematch.InvalidArgumentError, match="no id"):
            ix.query({"surname": "Okonkwo-Secret"})
        bad = ix.query({"id": "Z", "dob": "31/02/1980"})
        assert bad["invalid"] == [{"field": "dob", "problem": "impossible date"}]
        path = tmp_path / "pop.idx"
        ix.save(path)
        with carematch.Index.load(path) as back:
            assert len(back) == 8064
            assert back.query(q, limit=3) == a
        damaged = bytearray(path.read_bytes())
        damaged[len(damaged) // 2] ^= 1
        (tmp_path / "bad.idx").write_bytes(bytes(damaged))
        with pytest.raises(carematch.InputError, match="bad.idx.*checksum"):
            carematch.Index.load(tmp_path / "bad.idx")
        with pytest.raises(carematch.IoError):
            carematch.Index.load(tmp_path / "missing.idx")

        # Several threads query one index at once and agree with one thread.
        records = gp.head(200).to_dict("records")
        want = [ix.query(r)["decision"] for r in records]
        got = [None] * len(records)

        def work(k):
            for i in range(k, len(records), 2):
                got[i] = ix.query(records[i])["decision"]
        threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert got == want


def test_handles_free_themselves(model):
    from conftest import CALLS
    gc.collect()  # garbage of earlier tests (a failed call's traceback keeps its handles)
    before = CALLS["carematch_batch_free"]
    b = carematch.Batch.of({"id": ["A"], "surname": ["Smith"]})
    del b
    gc.collect()
    assert CALLS["carematch_batch_free"] == before + 1, "__del__ freed the batch"
    m = carematch.Model.from_json(model.to_json())
    freed = CALLS["carematch_model_free"]
    with m:
        pass
    assert m._ptr is None and CALLS["carematch_model_free"] == freed + 1
    m.close()  # a second close is a no-op
    assert CALLS["carematch_model_free"] == freed + 1


def test_answer_accessors_agree_with_its_json(gp, model):
    with carematch.Index.build(gp.head(3000), model) as ix:
        q = {"id": "H00000002", "first_name": "Nathan", "last_name": "Ellis",
             "dob": "13/01/1982", "gender": "Male", "postcode": "RM3 1AZ"}
        with ix.answer(q, limit=3) as a:
            d = a.to_dict()
            assert a.decision() == d["decision"]
            assert len(a) == len(d["candidates"]) >= 1
            for i, c in enumerate(d["candidates"]):
                got = a.candidate(i)
                assert got["id"] == c["id"] and got["decision"] == c["decision"]
                assert got["match_weight"] == pytest.approx(c["match_weight"], abs=1e-4)
                assert got["by_rule"] == c["by_rule"] == (c["rule"] is not None)
            with pytest.raises(carematch.InvalidArgumentError):
                a.candidate(len(a))


def test_normalised_values_and_comparison_vectors_match_the_shared_file():
    v = json.loads((ROOT / "tests" / "data" / "vectors.json").read_text())
    for n in v["normalised"]:
        if "problem" in n:
            with pytest.raises(carematch.InputError, match=n["problem"]) as e:
                carematch.normalise(n["role"], n["raw"])
            assert n["raw"] not in str(e.value)
        else:
            assert carematch.normalise(n["role"], n["raw"]) == n["normalised"], n
    with pytest.raises(carematch.InvalidArgumentError):
        carematch.normalise("shoe_size", "9")
    c = v["comparisons"]
    with carematch.Model.from_json(json.dumps(c["model"])) as fixed:
        for p in c["pairs"]:
            left = carematch.Batch.from_csv_text(p["header"] + "\n" + p["left"] + "\n")
            right = carematch.Batch.from_csv_text(p["header"] + "\n" + p["right"] + "\n")
            # The shared vectors are defined on the two rows alone (one-row inputs, warned).
            with pytest.warns(UserWarning, match="one-row input"):
                e = fixed.explain_pair(left, right)
            assert [x["level"] for x in e["comparisons"]] == p["levels"]
            assert [x["weight"] for x in e["comparisons"]] == pytest.approx(p["weights"], abs=1e-12)
            assert [x["tf"] for x in e["comparisons"]] == pytest.approx(p["tf"], abs=1e-12)
            assert e["match_weight"] == pytest.approx(p["match_weight"], abs=1e-12)
            with pytest.raises(carematch.InvalidArgumentError, match="past the end"), \
                    pytest.warns(UserWarning):
                fixed.explain_pair(left, right, left_row=1)


def test_core_checks_reach_python_duplicate_fields_file_mode_and_lock(gp, model, tmp_path):
    """Issue 10: the checks live once in the core; Python gets them through the C ABI.
    A field given twice (first_name and given_name) is refused as in a CSV header; a saved
    index is readable by its owner only; a save while another writer holds the index's lock
    is refused naming the holder."""
    import os
    import stat
    import subprocess
    import sys
    with carematch.Index.build(gp.head(200), model) as ix:
        with pytest.raises(carematch.InvalidArgumentError, match="first_name"):
            ix.query({"id": "q", "given_name": "Ann", "first_name": "Anne"})
        path = tmp_path / "pop.idx"
        ix.save(str(path))
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        # Another process holds the lock (as `carematch index add` does while it works).
        holder = subprocess.Popen(
            [sys.executable, "-c",
             "import fcntl, sys, time\n"
             "f = open(sys.argv[1], 'a+'); fcntl.flock(f, fcntl.LOCK_EX)\n"
             "print('held', flush=True); time.sleep(30)", str(path) + ".lock"],
            stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "held"
            with pytest.raises(carematch.CarematchError, match="in use by"):
                ix.save(str(path))
        finally:
            holder.kill()
            holder.wait()
        ix.save(str(path))


def test_type_hints_are_shipped():
    """PEP 561: py.typed is installed with the package, and the main functions are annotated."""
    import importlib.resources
    import inspect
    assert importlib.resources.files("carematch").joinpath("py.typed").is_file()
    for f in (carematch.link, carematch.dedupe, carematch.Model.train, carematch.Batch.of,
              carematch.Index.query, carematch.Index.query_many, carematch.Result.to_arrow):
        sig = inspect.signature(f)
        assert sig.return_annotation is not inspect.Signature.empty, f.__name__
