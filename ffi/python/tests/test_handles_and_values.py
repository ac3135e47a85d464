"""Handles that cannot be freed twice or while in use, and arguments that are never converted
silently: the regression tests of defects found in the package.

What used to crash the interpreter (a double free, a free while another thread queries) runs
in a subprocess, so that a crash is a failing test rather than a dead pytest.
"""

import copy
import datetime
import json
import os
import pathlib
import pickle
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pandas as pd
import pytest

import carematch

ROOT = pathlib.Path(__file__).resolve().parents[3]
DATA = ROOT / "examples" / "data"
NHS = "9639266442"  # a valid NHS number
KEY = bytes(range(32))


@pytest.fixture(scope="module")
def gp():
    return pd.read_csv(DATA / "gp.csv", dtype=str)


@pytest.fixture(scope="module")
def model(gp):
    with carematch.Model.train(gp.head(2000)) as m:
        yield m


@pytest.fixture(scope="module")
def index(gp, model):
    with carematch.Index.build(gp.head(2000), model) as ix:
        yield ix


def run_python(code, timeout=600):
    """Runs ``code`` in a fresh interpreter with this carematch package and library."""
    env = dict(os.environ)
    package_parent = str(pathlib.Path(carematch.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_pickle_and_copy_of_a_handle_never_double_free():
    # Every handle class, every way Python duplicates an object, then both objects closed.
    # Before: the duplicate shared the C pointer and the second close freed it again.
    proc = run_python("""
        import copy, json, pickle
        import pandas as pd
        import carematch

        gp = pd.read_csv("examples/data/gp.csv", dtype=str).head(300)
        model = carematch.Model.train(gp)
        index = carematch.Index.build(gp, model)
        handles = {
            "Batch": carematch.Batch.of(gp),
            "Model": model,
            "Result": carematch.dedupe_result(gp, model),
            "Pseudonymiser": carematch.Pseudonymiser(bytes(range(32))),
            "Index": index,
            "Answer": index.answer(gp.iloc[0].to_dict()),
        }
        ways = {"copy": copy.copy, "deepcopy": copy.deepcopy}
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            ways[f"pickle{protocol}"] = (
                lambda h, p=protocol: pickle.loads(pickle.dumps(h, protocol=p)))
        outcome = {}
        for kind, h in handles.items():
            for way, dup in ways.items():
                try:
                    twin = dup(h)
                except TypeError as e:
                    outcome[f"{kind} {way}"] = "TypeError: " + str(e)
                    continue
                assert twin is not h and twin._ptr != h._ptr, (kind, way)
                outcome[f"{kind} {way}"] = "independent"
                twin.close()
        json_text = model.to_json()  # the model still works after its copies were closed
        for h in reversed(list(handles.values())):
            h.close()
            h.close()
        print(json.dumps({"outcome": outcome, "model_json": len(json_text)}))
    """)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:])
    got = json.loads(proc.stdout.strip().splitlines()[-1])["outcome"]
    instead = {"Batch": "Batch.of", "Result": "to_frame()", "Pseudonymiser": "same key",
               "Index": "save it with save() and load it with Index.load()",
               "Answer": "to_dict()"}
    for key, what in got.items():
        kind = key.split()[0]
        if kind == "Model":  # round-trips through its JSON: an independent model
            assert what == "independent", key
        else:
            assert what.startswith("TypeError: ") and "cannot be copied or pickled" in what, key
            assert instead[kind] in what, key

    # In process, now that it is safe: a Model copy is a working model of its own.
    m = carematch.Model.from_json(json.dumps(json.loads(
        (ROOT / "tests" / "data" / "vectors.json").read_text())["comparisons"]["model"]))
    for twin in (copy.copy(m), copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert twin._ptr != m._ptr and twin.to_json() == m.to_json()
        twin.close()
    assert json.loads(m.to_json())
    m.close()
    with pytest.raises(carematch.ClosedError):
        copy.copy(m)  # a closed model has nothing to copy
    with carematch.Pseudonymiser(KEY) as p:
        with pytest.raises(TypeError, match="same key") as e:
            pickle.dumps(p)
        assert KEY.hex() not in str(e.value)


def test_close_of_an_index_waits_for_queries_in_flight_and_later_calls_raise_closed(tmp_path,
                                                                                     index):
    # 4 threads query one index in a loop while the main thread closes it, 20 times. Before:
    # a segfault or a PanicError in about half the runs (the index was freed under a query).
    path = tmp_path / "pop.idx"
    index.save(path)
    proc = run_python(f"""
        import json, random, threading
        import pandas as pd
        import carematch

        records = pd.read_csv("examples/data/gp.csv", dtype=str).head(50).to_dict("records")
        rounds = []
        for round in range(20):
            ix = carematch.Index.load({str(path)!r})
            started = threading.Barrier(5)
            ends = [None] * 4
            answers = [0] * 4

            def work(k):
                started.wait()
                i = k
                while True:
                    try:
                        a = ix.query(records[i % len(records)], limit=3)
                        assert a["candidates"], "an answer without candidates"
                        answers[k] += 1
                    except ValueError as e:  # the closed error (a ValueError)
                        ends[k] = "closed" if "closed" in str(e) else repr(e)
                        return
                    except BaseException as e:
                        ends[k] = repr(e)
                        return
                    i += 4

            threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
            for t in threads:
                t.start()
            started.wait()
            threading.Event().wait(random.uniform(0, 0.02))
            ix.close()
            for t in threads:
                t.join(120)
            alive = sum(t.is_alive() for t in threads)
            rounds.append({{"ends": ends, "answers": answers, "alive": alive}})
        print(json.dumps(rounds))
    """)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:])
    rounds = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(rounds) == 20
    for r in rounds:
        assert r["alive"] == 0, r
        assert r["ends"] == ["closed"] * 4, r

    # The error is a specific class naming the handle; close is idempotent; a handle whose
    # lock is held is never waited for by the finaliser, which never raises.
    ix = carematch.Index.load(path)
    ix.close()
    ix.close()
    with pytest.raises(carematch.ClosedError, match="Index is closed") as e:
        ix.query({"rec_id": "X"})
    assert isinstance(e.value, ValueError) and isinstance(e.value, carematch.CarematchError)
    with pytest.raises(carematch.ClosedError, match="Index is closed"):
        len(ix)
    b = carematch.Batch.of({"id": ["A"]})
    b._lock.acquire()
    b.__del__()  # returns at once
    b._lock.release()
    b.close()
    with pytest.raises(carematch.ClosedError, match="Batch is closed"):
        len(b)


def test_missing_and_numeric_values_of_one_record_are_never_turned_into_text(index, model):
    # normalise: missing is missing whatever its spelling; numbers and dates as files hold them.
    for missing in (None, float("nan"), np.nan, pd.NA, pd.NaT, np.datetime64("NaT"),
                    np.float32("nan")):
        assert carematch.normalise("given_name", missing) is None, repr(missing)
        assert carematch.normalise("nhs_number", missing) is None, repr(missing)
    for number in (9639266442.0, 9639266442, np.int64(9639266442), np.float64(9639266442.0),
                   NHS, NHS.encode()):
        assert carematch.normalise("nhs_number", number) == NHS, repr(number)
    for date in (datetime.date(1980, 2, 1), datetime.datetime(1980, 2, 1, 13, 45),
                 pd.Timestamp("1980-02-01"), np.datetime64("1980-02-01")):
        assert carematch.normalise("dob", date) == "1980-02-01", repr(date)
    with pytest.raises(carematch.InvalidUtf8Error) as e:
        carematch.normalise("surname", b"Z\xf6e-Secret")
    assert isinstance(e.value, ValueError) and "Secret" not in str(e.value)
    with pytest.raises(TypeError, match="pass a str") as e:
        carematch.normalise("surname", ["Secret"])
    assert "Secret" not in str(e.value)

    # The index: a record with missing values spelled every way answers as the record
    # without them, and a float NHS number is the number (before: "nan" was scored as a
    # name, "<NA>"/"NaT" were invalid values, 9639266442.0 was an invalid NHS number).
    plain = {"rec_id": "Q1", "nhs_number": NHS, "date_of_birth": "1980-02-01"}
    spelled = {"rec_id": "Q1", "nhs_number": 9639266442.0, "given_name": float("nan"),
               "surname": pd.NA, "date_of_birth": pd.Timestamp("1980-02-01"),
               "postcode": None, "sex": pd.NaT}
    want = index.query(plain)
    assert index.query(spelled) == want
    assert not want.get("invalid")
    with index.answer(spelled) as a:
        assert a.to_dict() == want

    # A missing id is a ValueError, never a record called "nan".
    n = len(index)
    for missing in (float("nan"), None, pd.NA):
        with pytest.raises(ValueError, match="id"):
            index.insert({"rec_id": missing, "surname": "Okonkwo"})
        with pytest.raises(ValueError, match="id"):
            index.query({"rec_id": missing, "surname": "Okonkwo"})
    assert len(index) == n
    with pytest.raises(ValueError):
        index.remove(float("nan"))
    index.insert({"rec_id": np.int64(77), "surname": "Okonkwo", "nhs_number": 9639266442.0})
    index.update({"rec_id": 77, "surname": "Okonkwo", "date_of_birth": datetime.date(1990, 1, 1)})
    index.remove(77)
    assert len(index) == n

    # The same values in a frame's object column and as text link the same way (one
    # conversion for both paths; before, Arrow refused the mixed column).
    left = pd.DataFrame({"id": ["A1", "A2"],
                         "nhs_number": pd.Series([9639266442.0, pd.NA], dtype=object),
                         "dob": pd.Series([datetime.date(1980, 2, 1), None], dtype=object)})
    right = pd.DataFrame({"id": ["B1"], "nhs_number": ["963 926 6442"], "dob": ["01/02/1980"]})
    assert list(carematch.link(left, right, model).rule) == ["nhs-dob"]
    columns = carematch.Batch.from_columns(left.to_dict("list"))
    assert list(carematch.link(columns, right, model).rule) == ["nhs-dob"]


def test_every_argument_is_checked_before_ctypes_converts_it(tmp_path, monkeypatch, gp, model,
                                                              index):
    monkeypatch.chdir(tmp_path)
    q = {"rec_id": "Q1", "surname": "Ellis"}

    # Paths: None was written to (or read from) a file called "None".
    for call in (lambda: index.save(None), lambda: model.save(None),
                 lambda: carematch.Model.load(None), lambda: carematch.Index.load(None),
                 lambda: carematch.Batch.read_csv(None), lambda: index.save(3)):
        with pytest.raises(TypeError, match="a path is needed: str or os.PathLike"):
            call()
    assert not (tmp_path / "None").exists() and not (tmp_path / "3").exists()
    index.save(tmp_path / "ok.idx")  # os.PathLike
    model.save(str(tmp_path / "ok.json"))  # str

    # Ids: remove(None) looked up "None".
    with pytest.raises(TypeError, match="record_id"):
        index.remove(None)

    # Integers: a C type's range, bool refused (limit=2**70 became 0, -1 became 2**64-1).
    size_max = 2 ** (8 * np.dtype(np.uintp).itemsize) - 1
    with pytest.raises(OverflowError, match=f"limit must be in 1..={size_max}"):
        index.query(q, limit=2**70)
    with pytest.raises(OverflowError, match="limit must be in 1"):
        index.query(q, limit=-1)
    with pytest.raises(ValueError, match="limit must be in 1"):
        index.query(q, limit=0)
    for bad in (True, 2.0, "3", None):
        with pytest.raises(TypeError, match="limit must be an int"):
            index.answer(q, limit=bad)
    assert len(index.query(q, limit=np.int64(2))["candidates"]) <= 2
    with carematch.link_result(gp.head(300), gp.head(300), model) as r:
        with pytest.raises(OverflowError, match="i must be in 0.."):
            r.pair(-1)
        with pytest.raises(OverflowError, match="row must be in 0..=4294967295"):
            r.record_id(0, 2**40)
        with pytest.raises(OverflowError, match="side must be in 0..=4294967295"):
            r.person_id(-1, 0)
        with pytest.raises(OverflowError, match="rule must be in -2147483648..=2147483647"):
            r.rule_name(2**31)
        with pytest.raises(TypeError, match="i must be an int"):
            r.explain("0")
        with pytest.raises(ValueError, match="truth pair 0: the right id is missing"):
            r.evaluate([("GP00000001", float("nan"))])
    with pytest.raises(OverflowError, match="left_row must be in 0..=4294967295"):
        model.explain_pair(gp.head(2), gp.head(2), left_row=2**32)
    with pytest.raises(OverflowError, match="0..=4294967295"):
        carematch.Batch.from_columns({"id": ["A"]}, roles={"id": -1})
    with pytest.raises(TypeError, match="person_ids must be True or False"):
        carematch.Index.build(gp.head(10), model, person_ids="yes")

    # The pseudonymiser: Pseudonymiser(32) used the all-zero key bytes(32); key_version -1 was
    # 4294967295 and 2**40 was 0; project None was "None".
    with pytest.raises(TypeError, match="32 key bytes .* or 64 hex digits"):
        carematch.Pseudonymiser(32)
    for version in (-1, 2**40):
        with pytest.raises(OverflowError, match="key_version must be in 0..=4294967295"):
            carematch.Pseudonymiser(KEY, key_version=version)
    with pytest.raises(TypeError, match="key_version must be an int"):
        carematch.Pseudonymiser(KEY, key_version=True)
    with pytest.raises(TypeError, match="project must be a str"):
        carematch.Pseudonymiser(KEY, project=None)
    secret_hex = "ab" * 31 + "zz"
    with pytest.raises(ValueError, match="64 hex digits") as e:
        carematch.Pseudonymiser(secret_hex)
    assert secret_hex not in str(e.value)
    with carematch.Pseudonymiser(KEY) as by_bytes, carematch.Pseudonymiser(KEY.hex()) as by_hex:
        assert by_hex.token("nhs_number.tok", NHS) == by_bytes.token("nhs_number.tok", NHS)
        assert by_bytes.token("nhs_number.tok", 9639266442.0) == \
            by_bytes.token("nhs_number.tok", NHS)
        with pytest.raises(ValueError, match="missing"):
            by_bytes.token("nhs_number.tok", None)
        with pytest.raises(TypeError, match="field must be a str"):
            by_bytes.token(None, NHS)
        with pytest.raises(TypeError, match="tokenise_id must be True or False"):
            by_bytes.encode(gp.head(3), tokenise_id=2)

    # Text and handles.
    with pytest.raises(TypeError, match="name must be a str"):
        carematch.Batch.of(gp.head(3), name=None)
    with pytest.raises(TypeError, match="text must be a str or bytes"):
        carematch.Batch.from_csv_text(None)
    with pytest.raises(TypeError, match="text must be a str or bytes"):
        carematch.Model.from_json(None)
    with pytest.raises(carematch.InvalidUtf8Error, match="column name"):
        index.query({"rec_id": "Q1", "sur\ud800name": "x"})
    with pytest.raises(TypeError, match="column names must be str"):
        index.query({"rec_id": "Q1", 3: "x"})
    with pytest.raises(TypeError, match="a record is a dict"):
        index.query(["Q1", "Ellis"])
    with pytest.raises(TypeError, match="role must be a str"):
        carematch.normalise(None, "x")
    with pytest.raises(TypeError, match="model must be a carematch.Model or None"):
        carematch.link(gp.head(3), gp.head(3), model="model.json")
    with pytest.raises(TypeError, match="model must be a carematch.Model, not NoneType"):
        carematch.Index.build(gp.head(3), None)
