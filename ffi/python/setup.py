"""Builds the carematch C library with cargo and puts it inside the package.

`pip install ffi/python` (from a clone of the repository, with the Rust toolchain on the
PATH) runs `cargo build --release -p carematch-ffi` and copies `libcarematch_ffi` next to the
Python modules. The version is read from the workspace's Cargo.toml, never copied by hand.
"""

import os
import pathlib
import re
import shutil
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def version():
    text = (ROOT / "Cargo.toml").read_text()
    m = re.search(r"\[workspace\.package\][^\[]*?version\s*=\s*\"([^\"]+)\"", text, re.S)
    if not m:
        raise RuntimeError("no [workspace.package] version in Cargo.toml")
    return m.group(1)


def library_name():
    if sys.platform == "darwin":
        return "libcarematch_ffi.dylib"
    if sys.platform == "win32":
        return "carematch_ffi.dll"
    return "libcarematch_ffi.so"


class BuildWithRust(build_py):
    """build_py that also builds the Rust library and copies it into the package."""

    def run(self):
        super().run()
        cargo = os.environ.get("CARGO", "cargo")
        subprocess.check_call(
            [cargo, "build", "--release", "-p", "carematch-ffi",
             "--manifest-path", str(ROOT / "Cargo.toml")]
        )
        target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
        if not target.is_absolute():
            target = ROOT / target
        lib = target / "release" / library_name()
        dest = pathlib.Path(self.build_lib) / "carematch"
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(lib, dest / lib.name)


class BinaryDistribution(Distribution):
    """The wheel holds a native library: tag it for the platform."""

    def has_ext_modules(self):
        return True


# Build files go under the workspace's target/ (ignored), not into the source tree: a pip
# install or `pip wheel ./ffi/python` leaves ffi/python as it was.
BUILD = ROOT / "target" / "python-build"
BUILD.mkdir(parents=True, exist_ok=True)

setup(
    version=version(),
    cmdclass={"build_py": BuildWithRust},
    distclass=BinaryDistribution,
    options={
        "build": {"build_base": str(BUILD)},
        "egg_info": {"egg_base": str(BUILD)},
    },
)
