"""The kernel of a link run in parts (carematch.Kernel, what carematch.spark runs inside
Spark), driven here by pyarrow and pandas alone: its three steps, with the pairs made by
joins on its key columns, give the pairs of carematch.link exactly. No Spark needed."""

import copy
import json
import pathlib
import pickle

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import carematch

DATA = pathlib.Path(__file__).resolve().parents[3] / "examples" / "data"


def _table(path):
    df = pd.read_csv(path, dtype=str)
    return pa.Table.from_pandas(df, preserve_index=False)


@pytest.fixture(scope="module")
def sources():
    return _table(DATA / "gp.csv"), _table(DATA / "hospital.csv")


@pytest.fixture(scope="module")
def model(sources):
    return carematch.Model.train(*sources)


def _with_frequencies(kernel, prepared, rows):
    doc = json.loads(kernel.to_json())
    counts = {}
    for t in doc["term_frequencies"]:
        values = pa.concat_arrays([p[t["column"]].combine_chunks() for p in prepared]).drop_null()
        counts[t["column"]] = {r["values"]: r["counts"] for r in pc.value_counts(values).to_pylist()}
    doc["frequencies"] = {"rows": rows, "counts": counts}
    return carematch.Kernel.from_json(json.dumps(doc))


def _candidates(kernel, lp, rp):
    """Row pairs of the two prepared sources, each once: rule j's join less earlier rules'."""
    keys = [b["column"] for b in json.loads(kernel.to_json())["blocking"]]
    L, R = lp.to_pandas(), rp.to_pandas()
    L["row"], R["row"] = range(len(L)), range(len(R))
    parts = []
    for j, k in enumerate(keys):
        m = L[["row", *keys]].dropna(subset=[k]).merge(
            R[["row", *keys]].dropna(subset=[k]), left_on=k, right_on=k, suffixes=("_l", "_r"))
        for i in range(j):
            a = m[keys[i] + "_l"] if keys[i] + "_l" in m else m[keys[i]]
            b = m[keys[i] + "_r"] if keys[i] + "_r" in m else m[keys[i]]
            m = m[~(a.notna() & (a == b))]
        parts.append(m[["row_l", "row_r"]])
    pairs = pd.concat(parts)
    assert not pairs.duplicated().any()
    return pairs, L, R


def test_the_kernels_steps_give_the_pairs_of_a_whole_link(sources, model):
    gp, hosp = sources
    kernel = carematch.Kernel.new(gp, hosp, model)
    lp, rp = kernel.prepare(0, gp), kernel.prepare(1, hosp)
    assert lp.num_rows == gp.num_rows and lp.column_names[:3] == ["_cm_id", "_cm_nhs", "_cm_person"]
    with pytest.raises(carematch.ConfigError, match="term frequencies"):
        kernel.score(gp.slice(0, 1), hosp.slice(0, 1))
    kernel = _with_frequencies(kernel, [lp, rp], gp.num_rows + hosp.num_rows)
    pairs, L, R = _candidates(kernel, lp, rp)
    left, right = gp.take(pa.array(pairs.row_l)), hosp.take(pa.array(pairs.row_r))
    s = kernel.score(left, right).to_pandas()
    s["left_id"] = L._cm_id.values[pairs.row_l]
    s["right_id"] = R._cm_id.values[pairs.row_r]
    s["row_l"], s["row_r"] = pairs.row_l.values, pairs.row_r.values
    s = s[s.keep]
    rel = s[s.relevant]
    # All the relevant pairs at once: a union of whole components.
    d = kernel.decide(gp.take(pa.array(rel.row_l)), hosp.take(pa.array(rel.row_r))).to_pandas()
    d["left_id"], d["right_id"] = rel.left_id.values, rel.right_id.values
    cols = ["left_id", "right_id", "match_weight", "match_probability", "decision", "rule",
            "reason"]
    got = pd.concat([d[d.decision.notna()][cols], s[~s.relevant][cols]])
    got = got.sort_values(["left_id", "right_id"]).reset_index(drop=True)
    with carematch.link_result(gp, hosp, model) as r:
        want = r.to_pandas()
        people = r.clusters()
    assert list(zip(got.left_id, got.right_id)) == list(zip(want.left_id, want.right_id))
    assert list(got.decision) == list(want.decision)
    assert list(got.rule.fillna("")) == list(want.rule.fillna(""))
    assert list(got.reason.fillna("")) == list(want.reason.fillna(""))
    assert (got.match_weight - want.match_weight).abs().max() == 0.0
    # Person ids: a decided record's from step 3, any other its own from step 1.
    ids = dict(zip(L._cm_id, L._cm_person)) | dict(zip(R._cm_id, R._cm_person))
    ids.update(zip(d.left_id, d.left_person))
    ids.update(zip(d.right_id, d.right_person))
    assert ids == dict(zip(people.record_id, people.person_id))


def test_kernel_errors_name_the_problem_and_copies_are_independent(sources, model):
    gp, hosp = sources
    kernel = carematch.Kernel.new(gp, hosp, model, config={"one_to_one": True})
    with pytest.raises(carematch.InvalidArgumentError, match="side 2"):
        kernel.prepare(2, gp)
    with pytest.raises(carematch.InvalidArgumentError, match="columns"):
        kernel.prepare(0, hosp)
    with pytest.raises(carematch.ConfigError, match="not a kernel"):
        carematch.Kernel.from_json(json.dumps({**json.loads(kernel.to_json()), "version": 99}))
    with pytest.raises(carematch.ConfigError, match="labels"):
        carematch.Kernel.new(gp, hosp, model, config={"labels": []})
    renamed = gp.rename_columns([*gp.column_names[:-1], "_cm_x"])
    with pytest.raises(carematch.ConfigError, match="_cm_x"):
        carematch.Kernel.new(renamed, hosp, model)
    doc = json.loads(kernel.to_json())
    doc["frequencies"] = {"rows": 1, "counts": {}}
    with pytest.raises(carematch.ConfigError, match="no counts"):
        carematch.Kernel.from_json(json.dumps(doc))
    for other in (copy.copy(kernel), copy.deepcopy(kernel), pickle.loads(pickle.dumps(kernel))):
        assert other.to_json() == kernel.to_json()
    with pytest.raises(carematch.InputError, match="duplicate id"):
        kernel.prepare(0, pa.concat_tables([gp.slice(0, 1), gp.slice(0, 1)]))
