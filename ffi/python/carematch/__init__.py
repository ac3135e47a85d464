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
import datetime
import json
import math
import numbers
import operator
import os
import threading
import warnings
from typing import Any, Mapping, Union

import numpy as np
import pandas as pd
import pyarrow as pa

from . import _ffi
from ._ffi import lib

__all__ = [
    "__version__", "CarematchError", "NullArgumentError", "InvalidUtf8Error",
    "InvalidArgumentError", "BufferTooSmallError", "InputError", "IoError", "PanicError",
    "ConfigError", "MemoryLimitError", "ClosedError", "Batch", "Model", "Result", "Pseudonymiser", "Index",
    "Answer", "link", "dedupe", "normalise", "DataQualityWarning", "link_result", "dedupe_result",
    "review", "Kernel",
]

#: What the functions read data from: an object exporting an Arrow stream
#: (``__arrow_c_stream__``: pyarrow Table or RecordBatchReader, polars, DuckDB), a pandas
#: DataFrame, a dict of lists or a Batch.
Data = Any
#: A config: a dict of the ``carematch --config`` file's keys, or its JSON text.
Config = Union[Mapping[str, Any], str, bytes]

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
        """The C name of ``status``; None for errors raised before reaching the library."""
        if self.status is None:
            return None
        return lib.carematch_status_name(self.status).decode()


class NullArgumentError(CarematchError):
    """A required argument was missing (CAREMATCH_NULL_ARGUMENT)."""

    status = _ffi.STATUS["CAREMATCH_NULL_ARGUMENT"]


class InvalidUtf8Error(CarematchError, ValueError):
    """Text was not valid UTF-8 (CAREMATCH_INVALID_UTF8)."""

    status = _ffi.STATUS["CAREMATCH_INVALID_UTF8"]


class InvalidArgumentError(CarematchError, ValueError):
    """An argument was out of range or otherwise invalid (CAREMATCH_INVALID_ARGUMENT)."""

    status = _ffi.STATUS["CAREMATCH_INVALID_ARGUMENT"]


class BufferTooSmallError(CarematchError):
    """A buffer was too small (CAREMATCH_BUFFER_TOO_SMALL); the package retries for you."""

    status = _ffi.STATUS["CAREMATCH_BUFFER_TOO_SMALL"]


class InputError(CarematchError, ValueError):
    """The input data was malformed (CAREMATCH_INPUT_ERROR)."""

    status = _ffi.STATUS["CAREMATCH_INPUT_ERROR"]


class IoError(CarematchError, OSError):
    """A file could not be read or written (CAREMATCH_IO_ERROR)."""

    status = _ffi.STATUS["CAREMATCH_IO_ERROR"]


class PanicError(CarematchError):
    """carematch hit an internal bug; the call was abandoned (CAREMATCH_PANIC)."""

    status = _ffi.STATUS["CAREMATCH_PANIC"]


class ConfigError(CarematchError, ValueError):
    """A model, config or rule was invalid (CAREMATCH_CONFIG_ERROR)."""

    status = _ffi.STATUS["CAREMATCH_CONFIG_ERROR"]


class MemoryLimitError(CarematchError, MemoryError):
    """The call stopped before it held more memory than the machine (or container) had free
    (CAREMATCH_MEMORY_ERROR); the message says what it was doing, what it held and what it
    could hold."""

    status = _ffi.STATUS["CAREMATCH_MEMORY_ERROR"]


_ERRORS = {c.status: c for c in (NullArgumentError, InvalidUtf8Error, InvalidArgumentError,
                                  BufferTooSmallError, InputError, IoError, PanicError,
                                  ConfigError, MemoryLimitError)}


def _check(status):
    if status != _ffi.OK:
        cls = _ERRORS.get(status, CarematchError)
        raise cls(_ffi.last_error(), status)


class ClosedError(CarematchError, ValueError):
    """A handle (Batch, Model, Result, Pseudonymiser, Index, Answer) was used after it was
    closed: by ``close()``, the end of its ``with`` block, or on another thread. No C status:
    the call never reached the library."""


# -- Argument validators -------------------------------------------------------------------
#
# Every value handed to ctypes goes through one of these first, so that nothing is converted
# silently (ctypes wraps 2**70 to 0 and -1 to 4294967295; str() turns None into "None").
# Messages name the argument and what to pass, never the value: values may be patient data
# or keys.

_C_INT_RANGES = {
    "uint32_t": (0, 2**32 - 1),
    "int32_t": (-(2**31), 2**31 - 1),
    "size_t": (0, 2 ** (8 * ctypes.sizeof(ctypes.c_size_t)) - 1),
    "uint64_t": (0, 2**64 - 1),
}


def _int_arg(value, name, ctype, low=None):
    """``value`` as a Python int for a C parameter of type ``ctype`` (``"uint32_t"``,
    ``"int32_t"``, ``"size_t"``), at least ``low`` when given. bool is refused (it is an int
    to Python, never what was meant); numpy integers are accepted. Outside the C type:
    OverflowError; inside it but below ``low``: ValueError; both name the allowed range."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int, not bool")
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, not {type(value).__name__}") from None
    c_low, c_high = _C_INT_RANGES[ctype]
    lo = c_low if low is None else low
    if not lo <= v <= c_high:
        cls = ValueError if c_low <= v <= c_high else OverflowError
        raise cls(f"{name} must be in {lo}..={c_high}")
    return v


def _flag_arg(value, name):
    """A yes/no argument as the C ``uint32_t`` 0 or 1: True/False (or the ints 0 and 1)."""
    if isinstance(value, (bool, np.bool_)):
        return int(bool(value))
    if isinstance(value, int) and value in (0, 1):
        return value
    raise TypeError(f"{name} must be True or False, not {type(value).__name__}")


def _encode(text, name):
    """A str as UTF-8 bytes; a str that cannot be UTF-8 (lone surrogates) is an
    InvalidUtf8Error naming ``name`` (as ``_value``'s), not the text."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        pass  # raised below, outside the handler: the UnicodeError holds the text
    raise InvalidUtf8Error(f"{_name(name)} is not valid text (it holds a lone surrogate)")


def _text_arg(value, name, bytes_ok=False):
    """(pointer, length) for a str argument (or, with ``bytes_ok``, bytes-like: passed as they
    are, and the library checks they are UTF-8)."""
    if isinstance(value, str):
        return _ffi.text_arg(_encode(value, name))
    if bytes_ok and isinstance(value, (bytes, bytearray, memoryview)):
        return _ffi.text_arg(bytes(value))
    what = "str or bytes" if bytes_ok else "str"
    raise TypeError(f"{name} must be a {what}, not {type(value).__name__}")


def _path_arg(value, name="path"):
    """(pointer, length) for a file path: a str or an os.PathLike."""
    try:
        path = os.fspath(value)
    except TypeError:
        raise TypeError(f"{name}: a path is needed: str or os.PathLike, "
                        f"not {type(value).__name__}") from None
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    return _text_arg(path, name)


def _handle_arg(value, cls, name, optional=False):
    """A handle argument of class ``cls`` (None allowed when ``optional``)."""
    if value is None and optional:
        return None
    if not isinstance(value, cls):
        what = f"a carematch.{cls.__name__}" + (" or None" if optional else "")
        raise TypeError(f"{name} must be {what}, not {type(value).__name__}")
    return value


def _key_arg(key):
    """The master key as bytes: 32 bytes (bytes, bytearray, memoryview) or 64 hex digits."""
    if isinstance(key, str):
        if len(key) != 64 or any(c not in "0123456789abcdefABCDEF" for c in key):
            raise ValueError("key: a key given as a str must be 64 hex digits (32 bytes)")
        return bytes.fromhex(key)
    if isinstance(key, (bytes, bytearray, memoryview)):
        return bytes(key)
    raise TypeError("key: pass the 32 key bytes (bytes) or 64 hex digits (str), "
                    f"not {type(key).__name__}")


def _value(value, name="a value"):
    """The text the library gets for one raw value, or None when the value is missing.

    The one conversion of a single value, for every path: a record for the index, a value to
    normalise or pseudonymise, a column of ``Batch.from_columns``, and the object columns of a
    data frame (``Batch.of``; typed columns are converted by Arrow, which follows the same
    rules). None, NaN, pd.NA and NaT are missing; integral floats are integers
    (9639266442.0 -> "9639266442"); numpy scalars as Python's; dates and datetimes as ISO
    dates; bytes as UTF-8; bool as Arrow writes it. Anything else is a TypeError naming
    ``name`` and what to pass: a str, or a tuple (format, *args) formatted only then (values
    are converted by the million; their messages are rare)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if math.isnan(f):
            return None
        return str(int(f)) if f.is_integer() else repr(f)
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
        if value is pd.NaT:
            return None
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            pass  # raised below, outside the handler: the UnicodeError holds the value
        raise InvalidUtf8Error(f"{_name(name)} is bytes that are not valid UTF-8")
    raise TypeError(f"{_name(name)} is a {type(value).__name__}: pass a str, int, float, "
                    "date or datetime, UTF-8 bytes, or None (or NaN) for a missing value")


def _name(name):
    """The name of an argument for a message: a str, or a tuple (format, *args)."""
    return name[0].format(*name[1:]) if isinstance(name, tuple) else name


def _value_bytes(value, name):
    """``_value`` as the UTF-8 bytes the library gets; a missing value is empty."""
    text = _value(value, name)
    return b"" if text is None else _encode(text, name)


# -- Handles ---------------------------------------------------------------------------------


class _Handle:
    """An owned C handle: freed by close(), by the context manager, or at garbage collection.

    Every C call through a handle holds it "in use" for the call (``_Using``); ``close()``
    marks the handle closed (later calls raise ClosedError), waits until no call is in flight
    on any thread, then frees it. So closing a handle other threads are using is safe, which
    the C library cannot promise by itself (freeing a handle in use is undefined behaviour in
    C). A handle is never copied or pickled: two owners of one pointer would free it twice.
    """

    _free = None  # the name of the C function that frees this kind of handle
    #: What to do instead of copying or pickling (see __reduce_ex__).
    _instead = "make a new one"

    def __init__(self, ptr):
        self._ptr = ptr
        self._in_flight = 0  # C calls through this handle now running, on any thread
        self._lock = threading.Lock()
        self._idle = None  # the Condition close() waits on, made only when it has to wait

    def _acquire(self):
        """Marks one call in flight and returns the pointer; ClosedError once closed."""
        with self._lock:
            if not self._ptr:
                raise ClosedError(f"this carematch.{type(self).__name__} is closed: it "
                                  "cannot be used after close() or its with block")
            self._in_flight += 1
            return self._ptr

    def _release(self):
        with self._lock:
            self._in_flight -= 1
            if not self._in_flight and self._idle is not None:
                self._idle.notify_all()

    def close(self):
        """Frees the C object; the object cannot be used afterwards (ClosedError). Calls in
        flight on other threads finish first; calls that start later raise ClosedError.
        Safe to call twice."""
        lock = getattr(self, "_lock", None)
        if lock is None:  # the constructor failed before the handle existed
            return
        with lock:
            ptr, self._ptr = self._ptr, None
            if self._in_flight:
                if self._idle is None:
                    self._idle = threading.Condition(lock)
                while self._in_flight:
                    self._idle.wait()
        if ptr:
            getattr(lib, type(self)._free)(ptr)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        # Never blocks and never raises: nothing can be using an unreachable handle, but if
        # the lock is somehow held (or a call counted in flight), leaking beats hanging.
        try:
            lock = self.__dict__.get("_lock")
            if lock is None or not lock.acquire(blocking=False):
                return
            try:
                if self._in_flight:
                    return
                ptr, self._ptr = self._ptr, None
            finally:
                lock.release()
            if ptr:
                getattr(lib, type(self)._free)(ptr)
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass

    def _no_copy(self):
        return TypeError(f"a carematch.{type(self).__name__} cannot be copied or pickled: it "
                         f"owns a C object that only it may free; {self._instead}")

    def __reduce_ex__(self, protocol):
        raise self._no_copy()

    def __copy__(self):
        raise self._no_copy()

    def __deepcopy__(self, memo):
        raise self._no_copy()


class _Using:
    """Holds the handles among ``args`` in use for the length of a C call and gives the
    arguments with each handle replaced by its pointer (None stays NULL)."""

    __slots__ = ("_args", "_held")

    def __init__(self, args):
        self._args = args
        self._held = []

    def __enter__(self):
        out = []
        try:
            for a in self._args:
                if isinstance(a, _Handle):
                    out.append(a._acquire())
                    self._held.append(a)
                else:
                    out.append(a)
        except BaseException:
            self.__exit__()
            raise
        return out

    def __exit__(self, *exc):
        held, self._held = self._held, []
        for h in held:
            h._release()


def _call(fn, *args):
    """Calls C function ``fn`` (handles in ``args`` held in use) and checks its status."""
    with _Using(args) as c_args:
        _check(fn(*c_args))


def _new(cls, fn, *args):
    """Calls a C function whose last argument is a handle out-parameter: a new ``cls``."""
    out = ctypes.c_void_p()
    _call(fn, *args, ctypes.byref(out))
    return cls(out.value)


def _text(fn, *args):
    """Calls a C function that writes text into (buf, len, out_written): size, then text, with
    the handles in ``args`` held in use across both calls."""
    with _Using(args) as c_args:
        n = ctypes.c_size_t(0)
        status = fn(*c_args, None, 0, ctypes.byref(n))
        if status not in (_ffi.OK, _ffi.BUFFER_TOO_SMALL):
            _check(status)
        buf = ctypes.create_string_buffer(max(n.value, 1))
        _check(fn(*c_args, buf, n.value, ctypes.byref(n)))
    return buf.raw[: n.value].decode("utf-8")


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


def _frame_values(df):
    """A frame Arrow writes as the library reads it: whole-number float columns as integers
    and object columns that are not all text through ``_value`` (typed columns Arrow already
    writes by the same rules: nulls empty, 13.0 as 13, dates ISO)."""
    out = _integral_floats(df)
    for col in df.columns:
        s = out[col]
        if s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) not in (
                "string", "empty"):
            if out is df:
                out = df.copy()
            out[col] = [_value(v, ("column {!r}, row {}", col, i)) for i, v in enumerate(s)]
    return out


def _arrow_out(fn, *args) -> pa.Table:
    """The pyarrow Table of the Arrow C stream that ``fn(*args, &stream)`` fills."""
    stream = _ffi.ArrowArrayStream()
    _call(fn, *args, ctypes.byref(stream))
    return pa.RecordBatchReader._import_from_c(ctypes.addressof(stream)).read_all()


def _frame(table: pa.Table) -> pd.DataFrame:
    """``table`` as a pandas DataFrame: text columns in pandas' own string type (``str``,
    Arrow-backed, from pandas 3; object before), so that a million pairs are not a million
    Python objects per column; numbers as float64, NaN where missing."""
    return table.to_pandas()


class _ArrowExport:
    """Data that leaves the library as Arrow: ``to_arrow()`` (a pyarrow Table) is the one
    conversion; ``to_pandas()``, ``to_polars()`` and the Arrow PyCapsule interface
    (``__arrow_c_stream__``, so that polars, DuckDB or pyarrow take the object directly)
    follow from it."""

    def to_arrow(self) -> pa.Table:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def to_pandas(self) -> pd.DataFrame:
        """As ``to_arrow()``, as a pandas DataFrame (text columns hold str, missing values
        None; numbers are floats, NaN where missing)."""
        return _frame(self.to_arrow())

    def to_polars(self):
        """As ``to_arrow()``, as a polars DataFrame (polars must be installed)."""
        try:
            import polars
        except ImportError:
            raise ImportError("to_polars() needs polars: pip install polars") from None
        return polars.from_arrow(self.to_arrow())

    def __arrow_c_stream__(self, requested_schema=None):
        """The Arrow PyCapsule stream of ``to_arrow()``."""
        return self.to_arrow().__arrow_c_stream__(requested_schema)


class Batch(_Handle, _ArrowExport):
    """One source's records, as the C library holds them. A batch exports its records as
    Arrow (``to_arrow()``, ``to_pandas()``, ``to_polars()``): an encoded batch from
    ``Pseudonymiser.encode`` can so be written out (``pyarrow.parquet.write_table``) and
    shared."""

    _free = "carematch_batch_free"
    _instead = "build another from the same data (Batch.of, Batch.read_csv)"

    @classmethod
    def of(cls, data: "Data", name: str = "batch") -> "Batch":
        """A batch from any object that exports an Arrow stream (``__arrow_c_stream__``: a
        pyarrow Table or RecordBatchReader, a polars DataFrame, a DuckDB relation, ...), a
        pandas DataFrame, a dict of lists (column name -> values) or a Batch (returned as it
        is). Column names are read as a CSV header would be (``nhs_number``, ``forename``,
        ``dob``, ...); a record id column is required. Arrow data is read in place by the
        library, with no CSV in between; nulls and NaN are missing values."""
        if isinstance(data, Batch):
            return data
        name_arg = _text_arg(name, "name")
        if isinstance(data, dict):
            data = pd.DataFrame(data)
        if isinstance(data, pd.DataFrame):
            data = pa.Table.from_pandas(_frame_values(data), preserve_index=False)
        if not hasattr(data, "__arrow_c_stream__"):
            raise TypeError("expected an object with __arrow_c_stream__ (a pyarrow Table or "
                            "RecordBatchReader, a polars DataFrame, ...), a pandas DataFrame, "
                            f"a dict of lists or a Batch, not {type(data).__name__}")
        capsule, stream = _ffi.arrow_stream(data)
        try:
            return _new(cls, lib.carematch_batch_from_arrow_stream, *name_arg, stream)
        finally:
            del capsule

    @classmethod
    def from_csv_text(cls, text, name="batch"):
        """A batch from CSV text (str or UTF-8 bytes), header first; a tab, semicolon or
        pipe delimiter is found from the header line."""
        return _new(cls, lib.carematch_batch_from_csv, *_text_arg(name, "name"),
                    *_text_arg(text, "text", bytes_ok=True))

    @classmethod
    def read_csv(cls, path):
        """A batch read from a file as ``carematch link`` reads it: CSV or other delimited
        text (TSV, semicolons, ...), gzipped or not, or Parquet."""
        return _new(cls, lib.carematch_batch_read_csv, *_path_arg(path))

    @classmethod
    def from_columns(cls, columns, name="batch", roles=None):
        """A batch built column by column: ``columns`` maps a name to its values; ``roles``
        optionally maps a name to a role number (``Batch.ROLE_*``); others go by name. Values
        are converted as a record's are (None and NaN are missing, 9434765919.0 is
        "9434765919", dates are ISO)."""
        if not hasattr(columns, "items"):
            raise TypeError("columns must be a dict of column name -> values, "
                            f"not {type(columns).__name__}")
        if roles is not None and not hasattr(roles, "get"):
            raise TypeError(f"roles must be a dict or None, not {type(roles).__name__}")
        batch = _new(cls, lib.carematch_batch_new, *_text_arg(name, "name"))
        for col, values in columns.items():
            col_arg = _text_arg(col, "a column name")
            role = _int_arg((roles or {}).get(col, cls.ROLE_BY_NAME), f"the role of {col!r}",
                            "uint32_t")
            arr, keep = _ffi.strs(_value_bytes(v, ("column {!r}, row {}", col, i))
                                  for i, v in enumerate(values))
            _call(lib.carematch_batch_add_column, batch, *col_arg, role, arr, len(keep))
        return batch

    def __len__(self):
        n = ctypes.c_size_t(0)
        _call(lib.carematch_batch_len, self, ctypes.byref(n))
        return n.value

    def to_arrow(self) -> pa.Table:
        """The batch's records as a pyarrow Table: the Arrow data it was made from, as it
        was, or (for a batch made from CSV or column by column) its columns as strings, an
        empty value null."""
        return _arrow_out(lib.carematch_batch_arrow_stream, self)


# Batch.ROLE_BY_NAME, Batch.ROLE_ID, ... Batch.ROLE_ADDRESS: the CAREMATCH_ROLE_* numbers.
for _role, _code in _ffi.ROLE.items():
    setattr(Batch, f"ROLE_{_role}", _code)
del _role, _code


def _model_from_json(text):
    """Model.from_json, as a module function for pickle."""
    return Model.from_json(text)


class Model(_Handle):
    """A trained Fellegi-Sunter model. Copies and pickles are independent models made from its
    JSON (``to_json``)."""

    _free = "carematch_model_free"

    @classmethod
    def train(cls, left: "Data", right: "Data | None" = None,
              config: "Config | None" = None, labels: "Any" = None) -> "Model":
        """Trains on ``left`` and ``right`` (for linking them) or ``left`` alone (dedupe).
        ``config``: a dict (or JSON text) of the ``carematch --config`` file's keys (column
        mapping, comparisons, blocking and training rules, ``u_pairs``, ``seed``).
        ``labels``: known true pairs of record ids (a DataFrame of ``left_id, right_id``, or
        its first two columns; or a list of id pairs): m is estimated from them, not by EM,
        as ``carematch train --labels``."""
        lb = Batch.of(left, "left")
        rb = Batch.of(right, "right") if right is not None else None
        if config is None and labels is None:
            return _new(cls, lib.carematch_model_train, lb, rb)
        return _new(cls, lib.carematch_model_train_config, lb, rb,
                    *_config_arg(config, labels))

    @classmethod
    def from_json(cls, text):
        """A model from the JSON text ``carematch train`` writes."""
        return _new(cls, lib.carematch_model_from_json, *_text_arg(text, "text", bytes_ok=True))

    @classmethod
    def load(cls, path):
        """A model from a file."""
        return _new(cls, lib.carematch_model_load, *_path_arg(path))

    def save(self, path):
        """Writes the model to a file."""
        _call(lib.carematch_model_save, self, *_path_arg(path))

    def to_json(self):
        """The model as JSON text."""
        return _text(lib.carematch_model_to_json, self)

    # A model is immutable and round-trips through its JSON: a copy or a pickle is a new,
    # independent model with its own C handle (never a second owner of this one's).
    def __reduce_ex__(self, protocol):
        return (_model_from_json, (self.to_json(),))

    def __copy__(self):
        return Model.from_json(self.to_json())

    def __deepcopy__(self, memo):
        return Model.from_json(self.to_json())

    def explain_pair(self, left, right, left_row=0, right_row=0):
        """Why row ``left_row`` of ``left`` and row ``right_row`` of ``right`` score what they
        score under this model: ``{"prior", "comparisons": [{"field", "level", "weight",
        "tf"}], "match_weight"}`` (inputs as for ``link``).

        Term frequencies come from ``left`` and ``right``: pass the whole inputs the link was
        run on, with the rows, and the numbers are the link's (``Result.explain(i)`` gives
        them for a pair of a result). Given one-row inputs, every value is rare and the
        weights differ from the link's: a UserWarning says so."""
        left_row = _int_arg(left_row, "left_row", "uint32_t")
        right_row = _int_arg(right_row, "right_row", "uint32_t")
        lb, rb = Batch.of(left, "left"), Batch.of(right, "right")
        if len(lb) == 1 or len(rb) == 1:
            warnings.warn("explain_pair: term frequencies come from the inputs given, and a "
                          "one-row input makes every value rare, so the weights are not the "
                          "link's; pass the whole inputs with left_row/right_row, or use "
                          "Result.explain(i)", UserWarning, stacklevel=2)
        return json.loads(_text(lib.carematch_model_explain_pair, self, lb, left_row, rb,
                                right_row))


#: Decision number -> name: ``{1: "match", 2: "review", 3: "ambiguous", 4: "no_match"}``.
DECISIONS = {code: name.lower() for name, code in _ffi.DECISION.items()}

#: The roles ``normalise`` takes, by name (``"given_name"``, ...; ``"dob"`` is short for
#: ``"date_of_birth"``) -> role number.
ROLES = {name.lower(): code for name, code in _ffi.ROLE.items() if name != "BY_NAME"}
ROLES["dob"] = ROLES["date_of_birth"]


def _kernel_from_json(text):
    """Kernel.from_json, as a module function for pickle."""
    return Kernel.from_json(text)


def _arrow_table(data, name):
    """``data`` as a pyarrow Table (pyarrow Tables and RecordBatches as they are)."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(_frame_values(data), preserve_index=False)
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data)
    raise TypeError(f"{name} must be Arrow data (a pyarrow Table or RecordBatch, or an object "
                    f"with __arrow_c_stream__) or a pandas DataFrame, not {type(data).__name__}")


def _arrow_in_out(fn, *args):
    """Calls ``fn(*args, &out)`` where each pyarrow Table in ``args`` is passed as an Arrow C
    stream (kept alive for the call), and returns the Table of the stream it writes."""
    keep, c_args = [], []
    for a in args:
        if isinstance(a, pa.Table):
            capsule, stream = _ffi.arrow_stream(a)
            keep.append(capsule)
            c_args.append(stream)
        else:
            c_args.append(a)
    try:
        return _arrow_out(fn, *c_args)
    finally:
        del keep


class Kernel(_Handle):
    """The settings of a link run in parts by another engine, and its three steps, each
    Arrow rows in and Arrow columns out: what ``carematch.spark`` runs inside Spark's
    ``mapInArrow`` (see the README's "Spark"). Copies and pickles are made from its JSON."""

    _free = "carematch_kernel_free"

    @classmethod
    def new(cls, left_sample: "Data", right_sample: "Data", model: "Model",
            config: "Config | None" = None) -> "Kernel":
        """A kernel for linking two sources: the rules are chosen from the samples (all the
        data, or a sample of each, with every column) as ``carematch link`` chooses them;
        ``model``'s thresholds are those of ``config`` where it sets them. It has no term
        frequencies until they are added to its JSON (``frequencies``) and it is read back."""
        model = _handle_arg(model, Model, "model")
        lb, rb = Batch.of(left_sample, "left"), Batch.of(right_sample, "right")
        return _new(cls, lib.carematch_kernel_new, lb, rb, model, *_config_arg(config))

    @classmethod
    def from_json(cls, text):
        """A kernel from its JSON (``to_json``, frequencies added or not)."""
        return _new(cls, lib.carematch_kernel_from_json, *_text_arg(text, "text", bytes_ok=True))

    def to_json(self):
        """The kernel as JSON text: config, model, rules, the sources' columns, the key column
        of each blocking rule (``blocking``) and the term-frequency columns
        (``term_frequencies``), and the frequencies when it has them."""
        return _text(lib.carematch_kernel_to_json, self)

    def __reduce_ex__(self, protocol):
        return (_kernel_from_json, (self.to_json(),))

    def __copy__(self):
        return Kernel.from_json(self.to_json())

    def __deepcopy__(self, memo):
        return Kernel.from_json(self.to_json())

    def prepare(self, side: int, rows: "Data") -> pa.Table:
        """One source's rows (``side`` 0 for the left, 1 for the right) normalised: a Table of
        ``_cm_id``, ``_cm_nhs``, ``_cm_person``, ``_cm_tf_<c>`` and ``_cm_key_<j>``, one row
        per row of ``rows``."""
        side = _int_arg(side, "side", "uint32_t")
        return _arrow_in_out(lib.carematch_kernel_prepare, self, side,
                             _arrow_table(rows, "rows"))

    def score(self, left: "Data", right: "Data") -> pa.Table:
        """Scores pairs, row i of ``left`` with row i of ``right``: ``rule``,
        ``match_weight``, ``match_probability``, ``keep``, ``relevant``, ``decision``,
        ``reason``."""
        return _arrow_in_out(lib.carematch_kernel_score, self, _arrow_table(left, "left"),
                             _arrow_table(right, "right"))

    def decide(self, left: "Data", right: "Data") -> pa.Table:
        """Decides whole connected groups of relevant pairs (row i of ``left`` with row i of
        ``right``): ``decision``, ``reason``, ``rule``, ``match_weight``,
        ``match_probability``, ``left_person``, ``right_person``."""
        return _arrow_in_out(lib.carematch_kernel_decide, self, _arrow_table(left, "left"),
                             _arrow_table(right, "right"))


def normalise(role, value):
    """The normalised text of one raw value of ``role`` (``"given_name"``, ``"surname"``,
    ``"dob"``, ``"sex"``, ``"postcode"``, ``"nhs_number"``, ``"address"``), as files are
    normalised; None when missing (None, NaN, pd.NA, NaT, or a placeholder). Values are
    converted as a record's are (``Index.query``). An invalid value raises InputError naming
    the problem, never the value."""
    if not isinstance(role, str):
        raise TypeError(f"role must be a str, not {type(role).__name__}")
    if role not in ROLES:
        raise InvalidArgumentError(f"unknown role {role!r}")
    text = _text(lib.carematch_normalise, ROLES[role],
                 *_ffi.text_arg(_value_bytes(value, "value")))
    return text or None


class Result(_Handle, _ArrowExport):
    """The pairs of a link or dedupe, with what explains them. The pairs leave as Arrow:
    ``to_arrow()``, ``to_pandas()`` (also ``to_frame()``), ``to_polars()``, or the object
    itself wherever an Arrow stream is taken (``polars.DataFrame(result)``,
    ``duckdb.sql("select * from result")``)."""

    _free = "carematch_result_free"
    _instead = "keep what you need from it (to_frame()), or run the link again"

    def __len__(self):
        n = ctypes.c_size_t(0)
        _call(lib.carematch_result_len, self, ctypes.byref(n))
        return n.value

    def pair(self, i):
        """Pair ``i`` as a dict: ``left`` and ``right`` (the rows of the two records in their
        batches; ``record_id`` gives their ids), ``match_weight``, ``match_probability``,
        ``decision`` (``"match"``, ``"review"`` or ``"ambiguous"``) and ``rule`` (the name of
        the deterministic rule that matched, or None). ``pairs()`` gives every pair so."""
        i = _int_arg(i, "i", "size_t")
        p = _ffi.Pair()
        _call(lib.carematch_result_get, self, i, ctypes.byref(p))
        return self._pair_dict(p, {})

    def pairs(self):
        """Every pair, in order, as a list of dicts as ``pair(i)`` gives them (copied out of
        the library in one call)."""
        with _Using((self,)) as (ptr,):
            n = ctypes.c_size_t(0)
            status = lib.carematch_result_copy(ptr, None, 0, ctypes.byref(n))
            if status not in (_ffi.OK, _ffi.BUFFER_TOO_SMALL):
                _check(status)
            arr = (_ffi.Pair * max(n.value, 1))()
            _check(lib.carematch_result_copy(ptr, arr, n.value, ctypes.byref(n)))
        rule_names = {}
        return [self._pair_dict(p, rule_names) for p in arr[: n.value]]

    def _pair_dict(self, p, rule_names):
        """A carematch_pair as ``pair`` gives it; ``rule_names`` caches rule number -> name."""
        rule = None
        if p.rule >= 0:
            if p.rule not in rule_names:
                rule_names[p.rule] = self.rule_name(p.rule)
            rule = rule_names[p.rule]
        return {"left": p.left, "right": p.right, "match_weight": p.match_weight,
                "match_probability": p.match_probability, "decision": DECISIONS[p.decision],
                "rule": rule}

    def rule_name(self, rule):
        """The name of deterministic rule number ``rule``."""
        return _text(lib.carematch_result_rule_name, self, _int_arg(rule, "rule", "int32_t"))

    def quality(self):
        """The data-quality report of the inputs (as ``carematch link`` prints it) and the
        number of invalid values, which were treated as missing: ``(text, invalid)``."""
        n = ctypes.c_uint64(0)
        text = _text(lib.carematch_result_quality, self, ctypes.byref(n))
        return text, n.value

    def csv(self) -> str:
        """The pairs file of ``carematch link`` as text (weights to 4 decimals, probabilities
        to 8)."""
        return _text(lib.carematch_result_csv, self)

    def to_arrow(self, explain: bool = False) -> pa.Table:
        """The pairs as a pyarrow Table, straight from the library's Arrow stream: left_id,
        right_id, match_weight, match_probability (full precision; null without a model),
        decision, rule, reason. With ``explain=True`` the waterfall columns of
        ``carematch link --explain`` follow: prior, then per comparison ``<field>_level``,
        ``<field>_weight`` and ``<field>_tf``, which add up to match_weight."""
        return _arrow_out(lib.carematch_result_arrow_stream, self, _flag_arg(explain, "explain"))

    def to_pandas(self, explain: bool = False) -> pd.DataFrame:
        """``to_arrow(explain)`` as a pandas DataFrame (ids and text as str; numbers at
        full precision)."""
        return _frame(self.to_arrow(explain))

    def to_frame(self, explain: bool = False) -> pd.DataFrame:
        """The same as ``to_pandas``: the pairs file's columns, numbers at full precision."""
        return self.to_pandas(explain)

    def clusters_arrow(self) -> pa.Table:
        """Every record's person id, in bulk, as a pyarrow Table of person_id, source (the
        batch's name) and record_id, one row per record of both inputs, ordered by person id
        (as ``carematch link --clusters`` writes them)."""
        return _arrow_out(lib.carematch_result_clusters_arrow_stream, self)

    def clusters(self) -> pd.DataFrame:
        """``clusters_arrow()`` as a pandas DataFrame."""
        return _frame(self.clusters_arrow())

    def review_arrow(self, audit: int = 0, seed: int = 1) -> pa.Table:
        """The pairs a person must decide, as a pyarrow Table with the columns of the review
        file ``carematch review`` writes: left_id, right_id, decision (null: fill it with
        ``match``, ``non-match`` or ``unsure`` and give the frame back to ``link(...,
        reviewed=)``), status, reason, match_weight, match_probability, then
        ``left_<column>`` and ``right_<column>`` (as normalised) for each column the records
        hold. One row per review and ambiguous pair, then ``audit`` automatic matches drawn
        at random by ``seed`` (reason ``audit``) whose decisions measure the precision of the
        automatic matches."""
        audit = _int_arg(audit, "audit", "size_t")
        seed = _int_arg(seed, "seed", "uint64_t")
        return _arrow_out(lib.carematch_result_review_arrow_stream, self, audit, seed)

    def review(self, audit: int = 0, seed: int = 1) -> pd.DataFrame:
        """``review_arrow(audit, seed)`` as a pandas DataFrame (see ``carematch.review``)."""
        return _frame(self.review_arrow(audit, seed))

    def explain(self, i):
        """The explanation of pair ``i``: prior, per-comparison level, weight and tf."""
        return json.loads(_text(lib.carematch_result_explain, self, _int_arg(i, "i", "size_t")))

    def record_id(self, side, row):
        """The record id of ``row`` of the left (``side`` 0) or right (1) batch."""
        return _text(lib.carematch_result_record_id, self, _int_arg(side, "side", "uint32_t"),
                     _int_arg(row, "row", "uint32_t"))

    def person_id(self, side, row):
        """The person id of ``row`` of the left (0) or right (1) batch."""
        return _text(lib.carematch_result_person_id, self, _int_arg(side, "side", "uint32_t"),
                     _int_arg(row, "row", "uint32_t"))

    def evaluate(self, truth):
        """Precision, recall and F1 of the matches against true pairs: a DataFrame whose
        first two columns are ids, or a sequence of (id, id)."""
        if isinstance(truth, pd.DataFrame):
            pairs = list(zip(truth.iloc[:, 0].tolist(), truth.iloc[:, 1].tolist()))
        else:
            pairs = [tuple(p) for p in truth]
        left, right = [], []
        for i, pair in enumerate(pairs):
            if len(pair) != 2:
                raise ValueError(f"truth pair {i} is not two ids")
            for side, v, out in (("left", pair[0], left), ("right", pair[1], right)):
                b = _value_bytes(v, ("truth pair {}, {} id", i, side))
                if not b:
                    raise ValueError(f"truth pair {i}: the {side} id is missing")
                out.append(b)
        left_arr, keep_l = _ffi.strs(left)
        right_arr, keep_r = _ffi.strs(right)
        e = _ffi.Evaluation()
        _call(lib.carematch_result_evaluate, self, left_arr, right_arr, len(keep_l),
              ctypes.byref(e))
        del keep_l, keep_r
        return {"precision": e.precision, "recall": e.recall, "f1": e.f1,
                "true_positives": e.true_positives, "false_positives": e.false_positives,
                "false_negatives": e.false_negatives}


class DataQualityWarning(UserWarning):
    """Some input values were invalid and were treated as missing (see Result.quality())."""


def _rows_of(data, name, columns):
    """The rows of ``data`` (a DataFrame, anything with ``__arrow_c_stream__``, or a list of
    tuples) as lists of ``len(columns)`` strings: a frame's columns ``columns`` when it has
    them by name, else its first ones."""
    if hasattr(data, "__arrow_c_stream__") and not isinstance(data, pd.DataFrame):
        data = pa.table(data).to_pandas()
    if isinstance(data, pd.DataFrame):
        named = [c for c in columns if c in data.columns]
        frame = data[columns] if len(named) == len(columns) else data.iloc[:, :len(columns)]
        if frame.shape[1] != len(columns):
            raise ValueError(f"{name} needs {len(columns)} columns ({', '.join(columns)})")
        rows = frame.itertuples(index=False, name=None)
    elif isinstance(data, (list, tuple)):
        rows = data
    else:
        raise TypeError(f"{name} must be a DataFrame, an Arrow table or a list of tuples, "
                        f"not {type(data).__name__}")
    out = []
    for i, row in enumerate(rows):
        if len(row) != len(columns):
            raise ValueError(f"{name}: row {i} has {len(row)} values, not {len(columns)}")
        out.append([_value(v, ("{}: row {}", name, i)) or "" for v in row])
    return out


_REVIEWED_COLUMNS = ["left_id", "right_id", "decision"]


def _reviewed_rows(reviewed):
    """The rows of reviewers' decisions (a frame with ``left_id``, ``right_id`` and
    ``decision`` columns, such as ``review()`` gives, or a list of (left_id, right_id,
    decision)) as lists of three strings: a missing decision is empty (the library skips the
    row), and row i is entry i of the config key ``reviewed``."""
    if hasattr(reviewed, "__arrow_c_stream__") and not isinstance(reviewed, pd.DataFrame):
        reviewed = pa.table(reviewed).to_pandas()
    if isinstance(reviewed, pd.DataFrame):
        missing = [c for c in _REVIEWED_COLUMNS if c not in reviewed.columns]
        if missing:
            raise ValueError(f"reviewed needs the columns {', '.join(_REVIEWED_COLUMNS)} (as "
                             f"review() gives them); missing: {', '.join(missing)}")
    return _rows_of(reviewed, "reviewed", _REVIEWED_COLUMNS)


def _config_arg(config, labels=None, previous_clusters=None, reviewed=None):
    """(pointer, length) of a config given as a dict (the ``carematch --config`` file's keys)
    or JSON text, with ``labels``, ``previous_clusters`` and ``reviewed`` added as its keys
    of those names."""
    if isinstance(config, bytes):
        config = config.decode("utf-8")
    if isinstance(config, str):
        try:
            config = json.loads(config) if config.strip() else {}
        except json.JSONDecodeError as e:
            raise ConfigError(f"invalid config: {e.msg} at line {e.lineno}") from None
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise TypeError("config must be a dict of the --config file's keys (\"columns\", "
                        "\"rules\", \"thresholds\", \"one_to_one\", ...) or JSON text, "
                        f"not {type(config).__name__}")
    if labels is not None:
        config = {**config, "labels": _rows_of(labels, "labels", ["left_id", "right_id"])}
    if previous_clusters is not None:
        if isinstance(previous_clusters, pd.DataFrame) and "cluster_id" in previous_clusters:
            previous_clusters = previous_clusters.rename(columns={"cluster_id": "person_id"})
        config = {**config, "previous_clusters": _rows_of(
            previous_clusters, "previous_clusters", ["person_id", "source", "record_id"])}
    if reviewed is not None:
        config = {**config, "reviewed": _reviewed_rows(reviewed)}
    return _text_arg(json.dumps(config), "config")


def _run(fn, *handles):
    result = _new(Result, fn, *handles)
    text, invalid = result.quality()
    if invalid:
        warnings.warn(f"{invalid} invalid values were treated as missing:\n{text}",
                      DataQualityWarning, stacklevel=3)
    return result


def link_result(left: "Data", right: "Data", model: "Model | None" = None,
                config: "Config | None" = None, labels: "Any" = None,
                previous_clusters: "Any" = None, reviewed: "Any" = None) -> "Result":
    """Links ``left`` with ``right`` and returns the Result handle (see ``link``)."""
    model = _handle_arg(model, Model, "model", optional=True)
    lb, rb = Batch.of(left, "left"), Batch.of(right, "right")
    if config is None and labels is None and previous_clusters is None and reviewed is None:
        return _run(lib.carematch_link, lb, rb, model)
    return _run(lib.carematch_link_config, lb, rb, model,
                *_config_arg(config, labels, previous_clusters, reviewed))


def dedupe_result(data: "Data", model: "Model | None" = None,
                  config: "Config | None" = None, labels: "Any" = None,
                  previous_clusters: "Any" = None, reviewed: "Any" = None) -> "Result":
    """Deduplicates ``data`` and returns the Result handle (see ``dedupe``)."""
    model = _handle_arg(model, Model, "model", optional=True)
    b = Batch.of(data, "input")
    if config is None and labels is None and previous_clusters is None and reviewed is None:
        return _run(lib.carematch_dedupe, b, model)
    return _run(lib.carematch_dedupe_config, b, model,
                *_config_arg(config, labels, previous_clusters, reviewed))


def link(left: "Data", right: "Data", model: "Model | None" = None,
         config: "Config | None" = None, labels: "Any" = None,
         reviewed: "Any" = None) -> pd.DataFrame:
    """The pairs linking ``left`` with ``right`` as a DataFrame (left_id, right_id,
    match_weight, match_probability, decision, rule, reason): deterministic rules, then ``model``
    (trained on the two inputs first when None, as ``carematch link`` does).

    ``config`` is a dict (or JSON text) with the keys of a ``carematch --config`` file:
    ``columns`` (``{"Forename 1": "given_name", "Hospital No": "id"}``), ``rules``,
    ``comparisons``, ``blocking``, ``training_rules``, ``thresholds``
    (``{"match_probability": 0.995}``, over the model's own), ``one_to_one``, ``strict``,
    ``accept_test_nhs_numbers``, ``u_pairs``, ``seed``. A misspelt key is a ConfigError.

    ``labels``: known true pairs (a DataFrame of ``left_id, right_id``, or its first two
    columns; or a list of id pairs) from which the model's m is estimated when ``model`` is
    None, as ``carematch train --labels``. For person ids that last across runs, use
    ``link_result(..., previous_clusters=earlier.clusters())`` and its ``clusters()``.

    ``reviewed``: reviewers' decisions, as ``--reviewed`` takes them: the frame
    ``carematch.review`` gives with its ``decision`` column filled (a pandas, pyarrow or
    polars frame with ``left_id``, ``right_id`` and ``decision``, or a list of (left_id,
    right_id, decision)). ``match`` links the pair (reason ``reviewed:match``), ``non-match``
    removes it, ``unsure`` keeps it for review (reason ``reviewed:unsure``); rows with no
    decision are skipped, and decisions are kept by record ids, so an earlier run's apply to
    a later one. Any other decision is a ConfigError naming the row."""
    with link_result(left, right, model, config, labels, reviewed=reviewed) as r:
        pairs = r.to_arrow()
    # The library's store is freed before pandas makes its frame: the peak is the larger of
    # the two, not their sum.
    return _frame(pairs)


def dedupe(data: "Data", model: "Model | None" = None,
           config: "Config | None" = None, labels: "Any" = None,
           reviewed: "Any" = None) -> pd.DataFrame:
    """The pairs of records of ``data`` that are one person, as a DataFrame (see ``link``,
    also for ``config``, ``labels`` and ``reviewed``)."""
    with dedupe_result(data, model, config, labels, reviewed=reviewed) as r:
        pairs = r.to_arrow()
    return _frame(pairs)


def review(result: "Result", audit: int = 0, seed: int = 1) -> pd.DataFrame:
    """The pairs of ``result`` (from ``link_result`` or ``dedupe_result``) a person must
    decide, side by side, as ``carematch review`` writes them: a DataFrame of left_id,
    right_id, decision (empty, for the reviewer: ``match``, ``non-match`` or ``unsure``),
    status, reason, match_weight, match_probability, then ``left_<column>`` and
    ``right_<column>`` for each column of the records. One row per review and ambiguous
    pair, then ``audit`` automatic matches drawn at random by ``seed``, so that the
    decisions measure their precision. Give the decided frame back with ``link(...,
    reviewed=frame)``."""
    return _handle_arg(result, Result, "result").review(audit, seed)


class Pseudonymiser(_Handle):
    """Keyed pseudonyms: ``key`` is the master key, 32 bytes or 64 hex digits; files to be
    linked must use the same key, ``project`` and ``key_version`` (0..=4294967295)."""

    _free = "carematch_pseudonymiser_free"
    _instead = ("make a new Pseudonymiser with the same key, project and key_version "
                "(the key is never written out)")

    def __init__(self, key, project="carematch", key_version=1):
        key = _key_arg(key)
        project_arg = _text_arg(project, "project")
        key_version = _int_arg(key_version, "key_version", "uint32_t")
        out = ctypes.c_void_p()
        _call(lib.carematch_pseudonymiser_new, key, len(key), *project_arg, key_version,
              ctypes.byref(out))
        super().__init__(out.value)

    def token(self, field, value):
        """The pseudonym of a normalised value for an encoded column (``"nhs_number.tok"``,
        ``"surname.bf"``, ...), as hex. A missing value has none: ValueError. Name columns
        come out unsalted (as ``--name-salt none`` writes them), not as the default file holds
        them; ``encode`` writes the default file."""
        value = _value_bytes(value, "value")
        if not value:
            raise ValueError("value is missing: a missing value has no pseudonym")
        return _text(lib.carematch_pseudonymiser_token, self, *_text_arg(field, "field"),
                     *_ffi.text_arg(value))

    def encode(self, data, tokenise_id=False):
        """An encoded Batch of ``data`` (tokens and hardened filters, no clear text), for
        ``link`` and ``dedupe`` with another batch encoded under the same key."""
        flag = _flag_arg(tokenise_id, "tokenise_id")
        b = Batch.of(data, "input")
        return _new(Batch, lib.carematch_pseudonymiser_encode, self, b, flag)


def _record_id(record_id):
    """The UTF-8 bytes of a record id argument: a str (or an int); None is a TypeError, a
    missing value (NaN, pd.NA) a ValueError."""
    if record_id is None:
        raise TypeError("record_id must be a str (the record's id), not None")
    b = _value_bytes(record_id, "record_id")
    if not b:
        raise ValueError("record_id is missing or empty")
    return b


class Index(_Handle):
    """A population held in memory for one-record-at-a-time matching. Safe to query from
    several threads; ``close()`` waits for calls in flight, and calls after it raise
    ClosedError."""

    _free = "carematch_index_free"
    _instead = "save it with save() and load it with Index.load()"

    @classmethod
    def build(cls, data, model, person_ids=False):
        """An index of ``data`` scored by ``model``; with ``person_ids`` every record keeps a
        person id (the population is deduplicated first)."""
        model = _handle_arg(model, Model, "model")
        flag = _flag_arg(person_ids, "person_ids")
        b = Batch.of(data, "population")
        return _new(cls, lib.carematch_index_build, b, model, flag)

    @classmethod
    def load(cls, path):
        """An index from a file written by ``save`` or ``carematch index build``."""
        return _new(cls, lib.carematch_index_load, *_path_arg(path))

    def save(self, path):
        """Writes the index to a file, atomically."""
        _call(lib.carematch_index_save, self, *_path_arg(path))

    def __len__(self):
        n = ctypes.c_size_t(0)
        _call(lib.carematch_index_len, self, ctypes.byref(n))
        return n.value

    @staticmethod
    def _fields(record):
        """The (names, values, n, buffers) of one record: every value converted by ``_value``
        (a missing value is passed empty, as an empty field of a file)."""
        if isinstance(record, pd.DataFrame) or not hasattr(record, "items"):
            raise TypeError("a record is a dict of column name -> value, "
                            f"not {type(record).__name__} (for a frame of records, use "
                            "Index.query_many)")
        names, values = [], []
        for k, v in record.items():
            if not isinstance(k, str):
                raise TypeError(f"column names must be str, not {type(k).__name__}")
            names.append(_encode(k, "a column name"))
            values.append(_value_bytes(v, ("the value of {!r}", k)))
        name_arr, keep_n = _ffi.strs(names)
        value_arr, keep_v = _ffi.strs(values)
        return name_arr, value_arr, len(names), (keep_n, keep_v)

    def answer(self, record, limit=10, explain=False, min_probability=None):
        """The Answer handle for one record (see ``query``)."""
        limit = _int_arg(limit, "limit", "size_t", low=1)
        explain = _flag_arg(explain, "explain")
        if min_probability is None:
            floor = math.nan
        elif isinstance(min_probability, numbers.Real) and 0 <= min_probability <= 1:
            floor = float(min_probability)
        else:
            raise ValueError("min_probability must be None or a number from 0 to 1")
        names, values, n, keep = self._fields(record)
        if not explain and min_probability is None:
            a = _new(Answer, lib.carematch_index_query, self, names, values, n, limit)
        else:
            a = _new(Answer, lib.carematch_index_query_options, self, names, values, n, limit,
                     floor, explain)
        del keep
        return a

    def query(self, record: "dict[str, Any]", limit: int = 10, explain: bool = False,
              min_probability: "float | None" = None) -> "dict[str, Any]":
        """Candidates for one record (a dict of column name -> raw value, id included; None,
        NaN, pd.NA and NaT are missing, a record without an id is a ValueError):
        ``{"id", "decision", "candidates": [{"id", "match_weight", "match_probability",
        "decision", "rule", "by_rule", ...}]}``, best first, at most ``limit`` (>= 1).
        ``explain=True`` adds each candidate's ``explanation`` (prior, and level, weight and
        term-frequency adjustment per comparison, adding up to its match weight);
        ``min_probability`` drops candidates below it (default: the review threshold)."""
        with self.answer(record, limit, explain, min_probability) as a:
            return a.to_dict()

    def query_many(self, records: "Data | list[dict[str, Any]]", limit: int = 1,
                   min_probability: "float | None" = None) -> pd.DataFrame:
        """Answers for a frame of records (a pandas DataFrame, anything exporting an Arrow
        stream, or a list of dicts): a DataFrame with one row per candidate, best first per
        record (a record with none has one row with no candidate): ``query_id``,
        ``decision`` (the record's), ``candidate_id``, ``match_weight``,
        ``match_probability``, ``candidate_decision``, ``rule``."""
        if isinstance(records, list):
            rows = records
        else:
            if not isinstance(records, pd.DataFrame):
                if not hasattr(records, "__arrow_c_stream__"):
                    raise TypeError("records must be a pandas DataFrame, an object with "
                                    "__arrow_c_stream__ or a list of dicts, not "
                                    f"{type(records).__name__}")
                records = pa.table(records).to_pandas()
            rows = records.to_dict("records")
        out = []
        for rec in rows:
            a = self.query(rec, limit, min_probability=min_probability)
            base = {"query_id": a["id"], "decision": a["decision"]}
            if not a["candidates"]:
                out.append(dict(base, candidate_id=None, match_weight=math.nan,
                                match_probability=math.nan, candidate_decision=None, rule=None))
            for c in a["candidates"]:
                out.append(dict(base, candidate_id=c["id"], match_weight=c["match_weight"],
                                match_probability=c["match_probability"],
                                candidate_decision=c.get("decision"), rule=c.get("rule")))
        columns = ["query_id", "decision", "candidate_id", "match_weight", "match_probability",
                   "candidate_decision", "rule"]
        return pd.DataFrame(out, columns=columns)

    def insert(self, record):
        """Adds one record (a dict, as ``query``)."""
        names, values, n, keep = self._fields(record)
        _call(lib.carematch_index_insert, self, names, values, n)
        del keep

    def update(self, record):
        """Replaces the record with the same id."""
        names, values, n, keep = self._fields(record)
        _call(lib.carematch_index_update, self, names, values, n)
        del keep

    def remove(self, record_id):
        """Removes the record with id ``record_id``."""
        _call(lib.carematch_index_remove, self, *_ffi.text_arg(_record_id(record_id)))


class Answer(_Handle):
    """The answer to one query, as the C library holds it (``Index.answer``): the decision,
    the candidates by index, and the whole answer as JSON (``to_dict``)."""

    _free = "carematch_answer_free"
    _instead = "keep its to_dict()"

    def decision(self):
        """``"match"``, ``"ambiguous"``, ``"review"`` or ``"no_match"``."""
        d = ctypes.c_uint32(0)
        _call(lib.carematch_answer_decision, self, ctypes.byref(d))
        return DECISIONS[d.value]

    def __len__(self):
        n = ctypes.c_size_t(0)
        _call(lib.carematch_answer_len, self, ctypes.byref(n))
        return n.value

    def candidate(self, i):
        """Candidate ``i`` (0 is the best): id, weight, probability, decision, by_rule."""
        i = _int_arg(i, "i", "size_t")
        c = _ffi.CandidateStruct()
        _call(lib.carematch_answer_candidate, self, i, ctypes.byref(c))
        return {"id": _text(lib.carematch_answer_candidate_id, self, i),
                "match_weight": c.match_weight, "match_probability": c.match_probability,
                "decision": DECISIONS[c.decision], "by_rule": bool(c.by_rule)}

    def to_dict(self):
        """The answer as ``carematch index query`` writes it, each candidate with
        ``by_rule`` (whether a deterministic rule matched it)."""
        d = json.loads(_text(lib.carematch_answer_json, self))
        for c in d["candidates"]:
            c["by_rule"] = c["rule"] is not None
        return d
