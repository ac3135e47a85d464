"""carematch: patient record linkage for health and social care, from Python.

A thin layer over the carematch C ABI (``libcarematch_ffi``, built from the Rust crate): every
status code is an exception class, every handle an object with ``close()``, a context manager
and a ``__del__`` fallback. Inputs are pandas DataFrames, pyarrow Tables or dicts of lists
(column name -> values, named as in a CSV file); results are pandas DataFrames.

>>> import carematch
>>> pairs = carematch.link(gp_frame, hospital_frame)          # doctest: +SKIP
>>> model = carematch.Model.train(gp_frame, hospital_frame)   # doctest: +SKIP
>>> model.save("model.json")                                   # doctest: +SKIP
"""

import ctypes
import io
import json
import math
import warnings

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from . import _ffi
from ._ffi import lib

__all__ = [
    "__version__", "CarematchError", "NullArgumentError", "InvalidUtf8Error",
    "InvalidArgumentError", "BufferTooSmallError", "InputError", "IoError", "PanicError",
    "ConfigError", "Batch", "Model", "Result", "Pseudonymiser", "Index", "Answer", "link",
    "dedupe",
    "normalise", "DataQualityWarning", "link_result", "dedupe_result",
]

#: The version of the linked C library.
__version__ = lib.carematch_version().decode()


class CarematchError(Exception):
    """A carematch call failed. ``status`` is the C status code, ``status_name`` its name."""

    status = None

    def __init__(self, message, status=None):
        super().__init__(message)
        if status is not None:
            self.status = status

    @property
    def status_name(self):
        return lib.carematch_status_name(self.status).decode()


class NullArgumentError(CarematchError):
    """A required argument was missing (CAREMATCH_NULL_ARGUMENT)."""

    status = 1


class InvalidUtf8Error(CarematchError, ValueError):
    """Text was not valid UTF-8 (CAREMATCH_INVALID_UTF8)."""

    status = 2


class InvalidArgumentError(CarematchError, ValueError):
    """An argument was out of range or otherwise invalid (CAREMATCH_INVALID_ARGUMENT)."""

    status = 3


class BufferTooSmallError(CarematchError):
    """A buffer was too small (CAREMATCH_BUFFER_TOO_SMALL); the package retries for you."""

    status = 4


class InputError(CarematchError, ValueError):
    """The input data was malformed (CAREMATCH_INPUT_ERROR)."""

    status = 5


class IoError(CarematchError, OSError):
    """A file could not be read or written (CAREMATCH_IO_ERROR)."""

    status = 6


class PanicError(CarematchError):
    """carematch hit an internal bug; the call was abandoned (CAREMATCH_PANIC)."""

    status = 7


class ConfigError(CarematchError, ValueError):
    """A model, config or rule was invalid (CAREMATCH_CONFIG_ERROR)."""

    status = 8


_ERRORS = {c.status: c for c in (NullArgumentError, InvalidUtf8Error, InvalidArgumentError,
                                  BufferTooSmallError, InputError, IoError, PanicError,
                                  ConfigError)}


def _check(status):
    if status != _ffi.OK:
        cls = _ERRORS.get(status, CarematchError)
        raise cls(_ffi.last_error(), status)


def _text(fn, *args):
    """Calls a C function that writes text into (buf, len, out_written): size, then text."""
    n = ctypes.c_size_t(0)
    status = fn(*args, None, 0, ctypes.byref(n))
    if status not in (_ffi.OK, _ffi.BUFFER_TOO_SMALL):
        _check(status)
    buf = ctypes.create_string_buffer(max(n.value, 1))
    _check(fn(*args, buf, n.value, ctypes.byref(n)))
    return buf.raw[: n.value].decode("utf-8")


class _Handle:
    """An owned C handle: freed by close(), by the context manager, or at garbage collection."""

    _free = None  # the name of the C function that frees this kind of handle

    def __init__(self, ptr):
        self._ptr = ptr

    @property
    def _handle(self):
        if not self._ptr:
            raise ValueError(f"this {type(self).__name__} is closed")
        return self._ptr

    def close(self):
        """Frees the C object; the object cannot be used afterwards. Safe to call twice."""
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr:
            getattr(lib, type(self)._free)(ptr)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass


def _integral_floats(df):
    """Float columns holding only whole numbers (an NHS number column with gaps) as integers,
    so that they are written 9434765919, not 9434765919.0."""
    out = df
    for col in df.columns:
        s = df[col]
        if s.dtype.kind == "f":
            vals = s.dropna()
            if len(vals) and (vals == vals.round()).all():
                if out is df:
                    out = df.copy()
                out[col] = s.astype("Int64")
    return out


class Batch(_Handle):
    """One source's records, as the C library holds them."""

    _free = "carematch_batch_free"

    @classmethod
    def of(cls, data, name="batch"):
        """A batch from a pandas DataFrame, a pyarrow Table, a dict of lists (column name ->
        values) or a Batch (returned as it is). Column names are read as a CSV header would be
        (``nhs_number``, ``forename``, ``dob``, ...); a record id column is required."""
        if isinstance(data, Batch):
            return data
        if isinstance(data, dict):
            data = pd.DataFrame(data)
        if isinstance(data, pd.DataFrame):
            data = pa.Table.from_pandas(_integral_floats(data), preserve_index=False)
        if not isinstance(data, pa.Table):
            raise TypeError("expected a pandas DataFrame, a pyarrow Table, a dict of lists"
                            f" or a Batch, not {type(data).__name__}")
        # Arrow writes CSV in C++ (nulls as empty fields): the fast way to hand a frame over.
        buf = io.BytesIO()
        pa_csv.write_csv(data, buf)
        return cls.from_csv_text(buf.getvalue(), name)

    @classmethod
    def from_csv_text(cls, text, name="batch"):
        """A batch from CSV text (str or UTF-8 bytes), header first."""
        out = ctypes.c_void_p()
        _check(lib.carematch_batch_from_csv(*_ffi.text_arg(name), *_ffi.text_arg(text),
                                            ctypes.byref(out)))
        return cls(out.value)

    @classmethod
    def read_csv(cls, path):
        """A batch read from a CSV file."""
        out = ctypes.c_void_p()
        _check(lib.carematch_batch_read_csv(*_ffi.text_arg(str(path)), ctypes.byref(out)))
        return cls(out.value)

    @classmethod
    def from_columns(cls, columns, name="batch", roles=None):
        """A batch built column by column: ``columns`` maps a name to its values; ``roles``
        optionally maps a name to a role number (``Batch.ROLE_*``); others go by name."""
        out = ctypes.c_void_p()
        _check(lib.carematch_batch_new(*_ffi.text_arg(name), ctypes.byref(out)))
        batch = cls(out.value)
        for col, values in columns.items():
            role = (roles or {}).get(col, cls.ROLE_BY_NAME)
            arr, keep = _ffi.strs("" if v is None or (isinstance(v, float) and math.isnan(v))
                                  else v for v in values)
            _check(lib.carematch_batch_add_column(batch._handle, *_ffi.text_arg(col), role, arr,
                                                  len(keep)))
        return batch

    def __len__(self):
        n = ctypes.c_size_t(0)
        _check(lib.carematch_batch_len(self._handle, ctypes.byref(n)))
        return n.value

    ROLE_BY_NAME, ROLE_ID, ROLE_GIVEN_NAME, ROLE_SURNAME = 0, 1, 2, 3
    ROLE_DATE_OF_BIRTH, ROLE_SEX, ROLE_POSTCODE, ROLE_NHS_NUMBER, ROLE_ADDRESS = 4, 5, 6, 7, 8


class Model(_Handle):
    """A trained Fellegi-Sunter model."""

    _free = "carematch_model_free"

    @classmethod
    def train(cls, left, right=None):
        """Trains on ``left`` and ``right`` (for linking them) or ``left`` alone (dedupe)."""
        lb = Batch.of(left, "left")
        rb = Batch.of(right, "right") if right is not None else None
        out = ctypes.c_void_p()
        _check(lib.carematch_model_train(lb._handle, rb._handle if rb else None,
                                         ctypes.byref(out)))
        return cls(out.value)

    @classmethod
    def from_json(cls, text):
        """A model from the JSON text ``carematch train`` writes."""
        out = ctypes.c_void_p()
        _check(lib.carematch_model_from_json(*_ffi.text_arg(text), ctypes.byref(out)))
        return cls(out.value)

    @classmethod
    def load(cls, path):
        """A model from a file."""
        out = ctypes.c_void_p()
        _check(lib.carematch_model_load(*_ffi.text_arg(str(path)), ctypes.byref(out)))
        return cls(out.value)

    def save(self, path):
        """Writes the model to a file."""
        _check(lib.carematch_model_save(self._handle, *_ffi.text_arg(str(path))))

    def to_json(self):
        """The model as JSON text."""
        return _text(lib.carematch_model_to_json, self._handle)

    def explain_pair(self, left, right, left_row=0, right_row=0):
        """Why row ``left_row`` of ``left`` and row ``right_row`` of ``right`` score what they
        score under this model: ``{"prior", "comparisons": [{"field", "level", "weight",
        "tf"}], "match_weight"}`` (inputs as for ``link``)."""
        lb, rb = Batch.of(left, "left"), Batch.of(right, "right")
        return json.loads(_text(lib.carematch_model_explain_pair, self._handle, lb._handle,
                                left_row, rb._handle, right_row))


DECISIONS = {1: "match", 2: "review", 3: "ambiguous", 4: "no_match"}

ROLES = {"id": 1, "given_name": 2, "surname": 3, "dob": 4, "date_of_birth": 4, "sex": 5,
         "postcode": 6, "nhs_number": 7, "address": 8}


def normalise(role, value):
    """The normalised text of one raw value of ``role`` (``"given_name"``, ``"surname"``,
    ``"dob"``, ``"sex"``, ``"postcode"``, ``"nhs_number"``, ``"address"``), as files are
    normalised; None when missing. An invalid value raises InputError naming the problem."""
    if role not in ROLES:
        raise InvalidArgumentError(f"unknown role {role!r}", 3)
    text = _text(lib.carematch_normalise, ROLES[role], *_ffi.text_arg(value))
    return text or None


class Result(_Handle):
    """The pairs of a link or dedupe, with what explains them."""

    _free = "carematch_result_free"

    def __len__(self):
        n = ctypes.c_size_t(0)
        _check(lib.carematch_result_len(self._handle, ctypes.byref(n)))
        return n.value

    def pair(self, i):
        """Pair ``i`` as a dict: left/right rows of their batches, weight, probability,
        decision, rule name (or None)."""
        p = _ffi.Pair()
        _check(lib.carematch_result_get(self._handle, i, ctypes.byref(p)))
        return {"left": p.left, "right": p.right, "match_weight": p.match_weight,
                "match_probability": p.match_probability, "decision": DECISIONS[p.decision],
                "rule": self.rule_name(p.rule) if p.rule >= 0 else None}

    def pairs(self):
        """Every pair as a list of carematch_pair structs (bulk copy)."""
        n = ctypes.c_size_t(0)
        status = lib.carematch_result_copy(self._handle, None, 0, ctypes.byref(n))
        if status not in (_ffi.OK, _ffi.BUFFER_TOO_SMALL):
            _check(status)
        arr = (_ffi.Pair * max(n.value, 1))()
        _check(lib.carematch_result_copy(self._handle, arr, n.value, ctypes.byref(n)))
        return list(arr[: n.value])

    def rule_name(self, rule):
        """The name of deterministic rule number ``rule``."""
        return _text(lib.carematch_result_rule_name, self._handle, rule)

    def quality(self):
        """The data-quality report of the inputs (as ``carematch link`` prints it) and the
        number of invalid values, which were treated as missing: ``(text, invalid)``."""
        n = ctypes.c_uint64(0)
        text = _text(lambda *a: lib.carematch_result_quality(self._handle, ctypes.byref(n), *a))
        return text, n.value

    def to_frame(self):
        """The pairs as a DataFrame: left_id, right_id, match_weight, match_probability,
        decision, rule (as the pairs file of ``carematch link``)."""
        text = _text(lib.carematch_result_csv, self._handle).encode("utf-8")
        types = {"left_id": pa.string(), "right_id": pa.string(), "match_weight": pa.float64(),
                 "match_probability": pa.float64(), "decision": pa.string(),
                 "rule": pa.string()}
        table = pa_csv.read_csv(
            io.BytesIO(text),
            convert_options=pa_csv.ConvertOptions(column_types=types, strings_can_be_null=False,
                                                  null_values=[""]))
        frame = table.to_pandas()
        # Plain object columns of str, as pandas.read_csv(dtype=str) gives.
        for c in ("left_id", "right_id", "decision", "rule"):
            frame[c] = frame[c].astype(object)
        return frame

    def explain(self, i):
        """The explanation of pair ``i``: prior, per-comparison level, weight and tf."""
        return json.loads(_text(lib.carematch_result_explain, self._handle, i))

    def record_id(self, side, row):
        """The record id of ``row`` of the left (``side`` 0) or right (1) batch."""
        return _text(lib.carematch_result_record_id, self._handle, side, row)

    def person_id(self, side, row):
        """The person id of ``row`` of the left (0) or right (1) batch."""
        return _text(lib.carematch_result_person_id, self._handle, side, row)

    def evaluate(self, truth):
        """Precision, recall and F1 of the matches against true pairs: a DataFrame whose
        first two columns are ids, or a sequence of (id, id)."""
        if isinstance(truth, pd.DataFrame):
            pairs = list(zip(truth.iloc[:, 0].astype(str), truth.iloc[:, 1].astype(str)))
        else:
            pairs = [(str(a), str(b)) for a, b in truth]
        left, keep_l = _ffi.strs(a for a, _ in pairs)
        right, keep_r = _ffi.strs(b for _, b in pairs)
        e = _ffi.Evaluation()
        _check(lib.carematch_result_evaluate(self._handle, left, right, len(keep_l),
                                             ctypes.byref(e)))
        del keep_r
        return {"precision": e.precision, "recall": e.recall, "f1": e.f1,
                "true_positives": e.true_positives, "false_positives": e.false_positives,
                "false_negatives": e.false_negatives}


class DataQualityWarning(UserWarning):
    """Some input values were invalid and were treated as missing (see Result.quality())."""


def _run(fn, *handles):
    out = ctypes.c_void_p()
    _check(fn(*handles, ctypes.byref(out)))
    result = Result(out.value)
    text, invalid = result.quality()
    if invalid:
        warnings.warn(f"{invalid} invalid values were treated as missing:\n{text}",
                      DataQualityWarning, stacklevel=3)
    return result


def link_result(left, right, model=None):
    """Links ``left`` with ``right`` and returns the Result handle (see ``link``)."""
    lb, rb = Batch.of(left, "left"), Batch.of(right, "right")
    return _run(lib.carematch_link, lb._handle, rb._handle, model._handle if model else None)


def dedupe_result(data, model=None):
    """Deduplicates ``data`` and returns the Result handle (see ``dedupe``)."""
    b = Batch.of(data, "input")
    return _run(lib.carematch_dedupe, b._handle, model._handle if model else None)


def link(left, right, model=None):
    """The pairs linking ``left`` with ``right`` as a DataFrame (left_id, right_id,
    match_weight, match_probability, decision, rule): deterministic rules, then ``model``
    (trained on the two inputs first when None, as ``carematch link`` does)."""
    with link_result(left, right, model) as r:
        return r.to_frame()


def dedupe(data, model=None):
    """The pairs of records of ``data`` that are one person, as a DataFrame (see ``link``)."""
    with dedupe_result(data, model) as r:
        return r.to_frame()


class Pseudonymiser(_Handle):
    """Keyed pseudonyms: ``key`` is the 32-byte master key; files to be linked must use the
    same key, ``project`` and ``key_version``."""

    _free = "carematch_pseudonymiser_free"

    def __init__(self, key, project="carematch", key_version=1):
        super().__init__(None)
        key = bytes(key)
        out = ctypes.c_void_p()
        _check(lib.carematch_pseudonymiser_new(key, len(key), *_ffi.text_arg(project),
                                               key_version, ctypes.byref(out)))
        self._ptr = out.value

    def token(self, field, value):
        """The pseudonym of a normalised value for an encoded column (``"nhs_number.tok"``,
        ``"surname.bf"``, ...), as hex."""
        return _text(lib.carematch_pseudonymiser_token, self._handle, *_ffi.text_arg(field),
                     *_ffi.text_arg(value))

    def encode(self, data, tokenise_id=False):
        """An encoded Batch of ``data`` (tokens and hardened filters, no clear text), for
        ``link`` and ``dedupe`` with another batch encoded under the same key."""
        b = Batch.of(data, "input")
        out = ctypes.c_void_p()
        _check(lib.carematch_pseudonymiser_encode(self._handle, b._handle, int(tokenise_id),
                                                  ctypes.byref(out)))
        return Batch(out.value)


class Index(_Handle):
    """A population held in memory for one-record-at-a-time matching. Safe to query from
    several threads."""

    _free = "carematch_index_free"

    @classmethod
    def build(cls, data, model, person_ids=False):
        """An index of ``data`` scored by ``model``; with ``person_ids`` every record keeps a
        person id (the population is deduplicated first)."""
        b = Batch.of(data, "population")
        out = ctypes.c_void_p()
        _check(lib.carematch_index_build(b._handle, model._handle, int(person_ids),
                                         ctypes.byref(out)))
        return cls(out.value)

    @classmethod
    def load(cls, path):
        """An index from a file written by ``save`` or ``carematch index build``."""
        out = ctypes.c_void_p()
        _check(lib.carematch_index_load(*_ffi.text_arg(str(path)), ctypes.byref(out)))
        return cls(out.value)

    def save(self, path):
        """Writes the index to a file, atomically."""
        _check(lib.carematch_index_save(self._handle, *_ffi.text_arg(str(path))))

    def __len__(self):
        n = ctypes.c_size_t(0)
        _check(lib.carematch_index_len(self._handle, ctypes.byref(n)))
        return n.value

    @staticmethod
    def _fields(record):
        items = [(k, "" if v is None else v) for k, v in record.items()]
        names, keep_n = _ffi.strs(k for k, _ in items)
        values, keep_v = _ffi.strs(v for _, v in items)
        return names, values, len(items), (keep_n, keep_v)

    def answer(self, record, limit=10):
        """The Answer handle for one record (see ``query``)."""
        names, values, n, keep = self._fields(record)
        out = ctypes.c_void_p()
        _check(lib.carematch_index_query(self._handle, names, values, n, limit,
                                         ctypes.byref(out)))
        del keep
        return Answer(out.value)

    def query(self, record, limit=10):
        """Candidates for one record (a dict of column name -> raw value, id included):
        ``{"id", "decision", "candidates": [{"id", "match_weight", "match_probability",
        "decision", "rule", "by_rule", ...}]}``, best first."""
        with self.answer(record, limit) as a:
            return a.to_dict()

    def insert(self, record):
        """Adds one record (a dict, as ``query``)."""
        names, values, n, keep = self._fields(record)
        _check(lib.carematch_index_insert(self._handle, names, values, n))
        del keep

    def update(self, record):
        """Replaces the record with the same id."""
        names, values, n, keep = self._fields(record)
        _check(lib.carematch_index_update(self._handle, names, values, n))
        del keep

    def remove(self, record_id):
        """Removes the record with id ``record_id``."""
        _check(lib.carematch_index_remove(self._handle, *_ffi.text_arg(record_id)))


class Answer(_Handle):
    """The answer to one query, as the C library holds it (``Index.answer``): the decision,
    the candidates by index, and the whole answer as JSON (``to_dict``)."""

    _free = "carematch_answer_free"

    def decision(self):
        """``"match"``, ``"ambiguous"``, ``"review"`` or ``"no_match"``."""
        d = ctypes.c_uint32(0)
        _check(lib.carematch_answer_decision(self._handle, ctypes.byref(d)))
        return DECISIONS[d.value]

    def __len__(self):
        n = ctypes.c_size_t(0)
        _check(lib.carematch_answer_len(self._handle, ctypes.byref(n)))
        return n.value

    def candidate(self, i):
        """Candidate ``i`` (0 is the best): id, weight, probability, decision, by_rule."""
        c = _ffi.CandidateStruct()
        _check(lib.carematch_answer_candidate(self._handle, i, ctypes.byref(c)))
        return {"id": _text(lib.carematch_answer_candidate_id, self._handle, i),
                "match_weight": c.match_weight, "match_probability": c.match_probability,
                "decision": DECISIONS[c.decision], "by_rule": bool(c.by_rule)}

    def to_dict(self):
        """The answer as ``carematch index query`` writes it, each candidate with
        ``by_rule`` (whether a deterministic rule matched it)."""
        d = json.loads(_text(lib.carematch_answer_json, self._handle))
        for c in d["candidates"]:
            c["by_rule"] = c["rule"] is not None
        return d
