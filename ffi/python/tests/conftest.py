"""Counts the C functions the tests call: the run fails unless every function the header
exports was called at least once (through the package, or directly for what Python cannot
produce)."""

import collections

from carematch import _ffi

CALLS = collections.Counter()


def _counting(name, f):
    def call(*args):
        CALLS[name] += 1
        return f(*args)
    return call


for _name in _ffi.FUNCTIONS:
    setattr(_ffi.lib, _name, _counting(_name, getattr(_ffi.lib, _name)))


def pytest_sessionfinish(session, exitstatus):
    if session.config.option.keyword or session.config.option.markexpr:
        return  # a partial run
    if getattr(session, "testscollected", 0) == 0:
        return
    missing = [f for f in _ffi.FUNCTIONS if CALLS[f] == 0]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    line = (f"C ABI: {len(_ffi.FUNCTIONS)} functions declared, "
            f"{len(_ffi.FUNCTIONS) - len(missing)} called by the Python tests")
    if reporter:
        reporter.write_line(line)
    if missing:
        if reporter:
            reporter.write_line("not called: " + ", ".join(missing))
        session.exitstatus = 1
