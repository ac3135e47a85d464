"""The C ABI as ctypes declarations: one place for every signature of ffi/include/carematch.h.

Everything else in the package calls these through the helpers of carematch/__init__.py
(`_call`, `_text`, `_new`), which check the arguments, hold the handles in use for the call and
turn a status into an exception.
"""

import ctypes
import os
import pathlib
import sys
from ctypes import POINTER, Structure, c_char_p, c_double, c_int32, c_size_t, c_uint32, c_uint64
from ctypes import c_void_p


def _library_path():
    explicit = os.environ.get("CAREMATCH_LIBRARY")
    if explicit:
        return explicit
    name = {"darwin": "libcarematch_ffi.dylib", "win32": "carematch_ffi.dll"}.get(
        sys.platform, "libcarematch_ffi.so")
    return str(pathlib.Path(__file__).resolve().parent / name)


lib = ctypes.CDLL(_library_path())


class Str(Structure):
    """carematch_str: text as pointer + length."""

    _fields_ = [("ptr", c_char_p), ("len", c_size_t)]


class Pair(Structure):
    """carematch_pair."""

    _fields_ = [
        ("left", c_uint32),
        ("right", c_uint32),
        ("match_weight", c_double),
        ("match_probability", c_double),
        ("decision", c_uint32),
        ("rule", c_int32),
    ]


class Evaluation(Structure):
    """carematch_evaluation."""

    _fields_ = [
        ("precision", c_double),
        ("recall", c_double),
        ("f1", c_double),
        ("true_positives", c_uint64),
        ("false_positives", c_uint64),
        ("false_negatives", c_uint64),
    ]


class CandidateStruct(Structure):
    """carematch_candidate."""

    _fields_ = [
        ("match_weight", c_double),
        ("match_probability", c_double),
        ("decision", c_uint32),
        ("by_rule", c_uint32),
    ]


H = c_void_p  # every handle is an opaque pointer
OUT_H = POINTER(c_void_p)
SIZE = c_size_t
OUT_SIZE = POINTER(c_size_t)
TEXT = (c_char_p, c_size_t)
BUF = (ctypes.c_char_p, c_size_t, OUT_SIZE)

# name: (argument types, returns a status?)
_SIGNATURES = {
    "carematch_version": ([], c_char_p),
    "carematch_status_name": ([c_uint32], c_char_p),
    "carematch_last_error_message": ([c_void_p, SIZE, OUT_SIZE], c_uint32),
    "carematch_batch_new": ([*TEXT, OUT_H], c_uint32),
    "carematch_batch_read_csv": ([*TEXT, OUT_H], c_uint32),
    "carematch_batch_from_csv": ([*TEXT, *TEXT, OUT_H], c_uint32),
    "carematch_batch_from_arrow_stream": ([*TEXT, c_void_p, OUT_H], c_uint32),
    "carematch_batch_add_column": ([H, *TEXT, c_uint32, POINTER(Str), SIZE], c_uint32),
    "carematch_batch_len": ([H, OUT_SIZE], c_uint32),
    "carematch_batch_free": ([H], None),
    "carematch_model_train": ([H, H, OUT_H], c_uint32),
    "carematch_model_train_config": ([H, H, *TEXT, OUT_H], c_uint32),
    "carematch_model_from_json": ([*TEXT, OUT_H], c_uint32),
    "carematch_model_to_json": ([H, c_void_p, SIZE, OUT_SIZE], c_uint32),
    "carematch_model_load": ([*TEXT, OUT_H], c_uint32),
    "carematch_model_save": ([H, *TEXT], c_uint32),
    "carematch_model_free": ([H], None),
    "carematch_model_explain_pair": ([H, H, c_uint32, H, c_uint32, c_void_p, SIZE, OUT_SIZE],
                                     c_uint32),
    "carematch_normalise": ([c_uint32, *TEXT, c_void_p, SIZE, OUT_SIZE], c_uint32),
    "carematch_link": ([H, H, H, OUT_H], c_uint32),
    "carematch_dedupe": ([H, H, OUT_H], c_uint32),
    "carematch_link_config": ([H, H, H, *TEXT, OUT_H], c_uint32),
    "carematch_dedupe_config": ([H, H, *TEXT, OUT_H], c_uint32),
    "carematch_result_len": ([H, OUT_SIZE], c_uint32),
    "carematch_result_get": ([H, SIZE, POINTER(Pair)], c_uint32),
    "carematch_result_copy": ([H, POINTER(Pair), SIZE, OUT_SIZE], c_uint32),
    "carematch_result_csv": ([H, c_void_p, SIZE, OUT_SIZE], c_uint32),
    "carematch_result_arrow_stream": ([H, c_uint32, c_void_p], c_uint32),
    "carematch_batch_arrow_stream": ([H, c_void_p], c_uint32),
    "carematch_result_clusters_arrow_stream": ([H, c_void_p], c_uint32),
    "carematch_result_review_arrow_stream": ([H, SIZE, c_uint64, c_void_p], c_uint32),
    "carematch_result_rule_name": ([H, c_int32, c_void_p, SIZE, OUT_SIZE], c_uint32),
    "carematch_result_explain": ([H, SIZE, c_void_p, SIZE, OUT_SIZE], c_uint32),
    "carematch_result_record_id": ([H, c_uint32, c_uint32, c_void_p, SIZE, OUT_SIZE], c_uint32),
    "carematch_result_person_id": ([H, c_uint32, c_uint32, c_void_p, SIZE, OUT_SIZE], c_uint32),
    "carematch_result_evaluate": ([H, POINTER(Str), POINTER(Str), SIZE, POINTER(Evaluation)],
                                  c_uint32),
    "carematch_result_quality": ([H, POINTER(c_uint64), c_void_p, SIZE, OUT_SIZE], c_uint32),
    "carematch_result_free": ([H], None),
    "carematch_pseudonymiser_new": ([c_char_p, SIZE, *TEXT, c_uint32, OUT_H], c_uint32),
    "carematch_pseudonymiser_token": ([H, *TEXT, *TEXT, c_void_p, SIZE, OUT_SIZE], c_uint32),
    "carematch_pseudonymiser_encode": ([H, H, c_uint32, OUT_H], c_uint32),
    "carematch_pseudonymiser_free": ([H], None),
    "carematch_index_build": ([H, H, c_uint32, OUT_H], c_uint32),
    "carematch_index_load": ([*TEXT, OUT_H], c_uint32),
    "carematch_index_save": ([H, *TEXT], c_uint32),
    "carematch_index_len": ([H, OUT_SIZE], c_uint32),
    "carematch_index_query": ([H, POINTER(Str), POINTER(Str), SIZE, SIZE, OUT_H], c_uint32),
    "carematch_index_query_options": ([H, POINTER(Str), POINTER(Str), SIZE, SIZE, c_double,
                                       c_uint32, OUT_H], c_uint32),
    "carematch_index_insert": ([H, POINTER(Str), POINTER(Str), SIZE], c_uint32),
    "carematch_index_update": ([H, POINTER(Str), POINTER(Str), SIZE], c_uint32),
    "carematch_index_remove": ([H, *TEXT], c_uint32),
    "carematch_index_free": ([H], None),
    "carematch_answer_decision": ([H, POINTER(c_uint32)], c_uint32),
    "carematch_answer_len": ([H, OUT_SIZE], c_uint32),
    "carematch_answer_candidate": ([H, SIZE, POINTER(CandidateStruct)], c_uint32),
    "carematch_answer_candidate_id": ([H, SIZE, c_void_p, SIZE, OUT_SIZE], c_uint32),
    "carematch_answer_json": ([H, c_void_p, SIZE, OUT_SIZE], c_uint32),
    "carematch_answer_free": ([H], None),
    "carematch_kernel_new": ([H, H, H, *TEXT, OUT_H], c_uint32),
    "carematch_kernel_from_json": ([*TEXT, OUT_H], c_uint32),
    "carematch_kernel_to_json": ([H, c_void_p, SIZE, OUT_SIZE], c_uint32),
    "carematch_kernel_prepare": ([H, c_uint32, c_void_p, c_void_p], c_uint32),
    "carematch_kernel_score": ([H, c_void_p, c_void_p, c_void_p], c_uint32),
    "carematch_kernel_decide": ([H, c_void_p, c_void_p, c_void_p], c_uint32),
    "carematch_kernel_free": ([H], None),
}

for _name, (_args, _ret) in _SIGNATURES.items():
    _f = getattr(lib, _name)
    _f.argtypes = _args
    _f.restype = _ret

#: Every function of the C ABI that this package declares (and so wraps).
FUNCTIONS = tuple(_SIGNATURES)


def _statuses():
    """Every status code the library knows, by name (``"CAREMATCH_OK": 0``), read with
    carematch_status_name: the numbers come from the library, never from a copy here. Codes are
    small numbers (0..=9 today; new ones may be added), so 0..=255 covers them."""
    unknown = lib.carematch_status_name(2**32 - 1)
    names = ((code, lib.carematch_status_name(code)) for code in range(256))
    return {name.decode(): code for code, name in names if name != unknown}


#: Status name -> code, from the library.
STATUS = _statuses()
OK = STATUS["CAREMATCH_OK"]
BUFFER_TOO_SMALL = STATUS["CAREMATCH_BUFFER_TOO_SMALL"]

# The CAREMATCH_ROLE_* and CAREMATCH_DECISION_* numbers of carematch.h, by the name after the
# prefix. They are #defines, not symbols of the library, so this is where Python writes them,
# once; the tests check them against the header.

#: Column roles for carematch_batch_add_column and carematch_normalise.
ROLE = {"BY_NAME": 0, "ID": 1, "GIVEN_NAME": 2, "SURNAME": 3, "DATE_OF_BIRTH": 4, "SEX": 5,
        "POSTCODE": 6, "NHS_NUMBER": 7, "ADDRESS": 8}
#: The decision of a pair (carematch_pair.decision), a query or a candidate.
DECISION = {"MATCH": 1, "REVIEW": 2, "AMBIGUOUS": 3, "NO_MATCH": 4}


def last_error():
    """This thread's last error message."""
    n = c_size_t(0)
    lib.carematch_last_error_message(None, 0, ctypes.byref(n))
    buf = ctypes.create_string_buffer(max(n.value, 1))
    if lib.carematch_last_error_message(buf, n.value, ctypes.byref(n)) != OK:
        return ""
    return buf.value.decode("utf-8", "replace")


_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype = c_void_p
_capsule_pointer.argtypes = [ctypes.py_object, c_char_p]


def arrow_stream(obj):
    """The Arrow C stream an object exports (the Arrow PyCapsule interface,
    ``__arrow_c_stream__``), as (capsule, pointer to its ``struct ArrowArrayStream``). Keep the
    capsule alive for the call; the library moves the stream out, and the capsule's destructor
    then frees a released struct."""
    capsule = obj.__arrow_c_stream__()
    return capsule, _capsule_pointer(capsule, b"arrow_array_stream")


class ArrowArrayStream(Structure):
    """struct ArrowArrayStream of the Arrow C stream interface, for the library to fill; the
    reader that imports it (pyarrow) takes it over and releases it."""

    _fields_ = [("get_schema", c_void_p), ("get_next", c_void_p), ("get_last_error", c_void_p),
                ("release", c_void_p), ("private_data", c_void_p)]


def text_arg(b):
    """(pointer, length) for UTF-8 bytes. Text is encoded, and every argument checked, by the
    package's validators before it gets here: this refuses anything else rather than guess."""
    if not isinstance(b, bytes):
        raise TypeError(f"internal: text for the C ABI must be bytes, not {type(b).__name__}")
    return b, len(b)


def strs(values):
    """A carematch_str array for a sequence of UTF-8 bytes, and the buffers it points into."""
    keep = list(values)
    arr = (Str * max(len(keep), 1))()
    for i, b in enumerate(keep):
        if not isinstance(b, bytes):
            raise TypeError(f"internal: text for the C ABI must be bytes, not {type(b).__name__}")
        arr[i].ptr = b
        arr[i].len = len(b)
    return arr, keep
