#!/usr/bin/env bash
# Builds the carematch C ABI and runs the C tests against it (tests/smoke.c: status codes and
# the last error; tests/api.c: every other function) and the example examples/link_csv.c:
#   1. linked statically, under AddressSanitizer + UndefinedBehaviorSanitizer (with
#      LeakSanitizer), and
#   2. linked against the shared library, under valgrind (memcheck, 0 bytes definitely lost).
#
# Needs only the Rust toolchain, gcc and valgrind. Run from anywhere:
#     bash ffi/run-c-tests.sh
# Set CAREMATCH_SKIP_VALGRIND=1 to skip step 2 where valgrind is not installed.
set -euo pipefail

ffi_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$ffi_dir/.." && pwd)"
cd "$repo_root"

# The workspace target directory (honours CARGO_TARGET_DIR like cargo does).
target_dir="${CARGO_TARGET_DIR:-$repo_root/target}"
case "$target_dir" in
    /*) ;;
    *) target_dir="$repo_root/$target_dir" ;;
esac
lib_dir="$target_dir/release"
out_dir="$target_dir/c-tests"
mkdir -p "$out_dir"

echo "==> cargo build -p carematch-ffi --release"
cargo build -p carematch-ffi --release

cflags=(-std=c11 -Wall -Wextra -Werror -pedantic -g -pthread -I "$ffi_dir/include")
# What a Rust staticlib needs from the system (see `cargo rustc -- --print native-static-libs`).
native_libs=(-lgcc_s -lutil -lrt -lpthread -lm -ldl)

# The vectors shared with the Rust and Python tests (tests/data/vectors.json), as lines C can
# read: the key; T(oken) field value expected; N(ormalised) role raw expected-or-!problem;
# P(air) index levels match_weight, with each pair's two records as CSV files and the fixed
# model as JSON beside them.
python3 - "$repo_root/tests/data/vectors.json" "$out_dir" "$ffi_dir/include/carematch.h" <<'PY'
import json, os, re, sys
v = json.load(open(sys.argv[1]))
out_dir = sys.argv[2]
# The role numbers as the header defines them ("dob" is the vectors' name for DATE_OF_BIRTH).
roles = {name.lower(): int(code) for name, code in
         re.findall(r"^#define CAREMATCH_ROLE_(\w+) (\d+)$", open(sys.argv[3]).read(), re.M)}
roles["dob"] = roles["date_of_birth"]
with open(os.path.join(out_dir, "vectors.tsv"), "w") as out:
    out.write("%s %s %d\n" % (v["key_hex"], v["project"], v["key_version"]))
    for t in v["tokens"]:
        out.write("T\t%s\t%s\t%s\n" % (t["field"], t["value"], t["token"]))
    for b in v["blooms"]:
        out.write("T\t%s\t%s\t%s\n" % (b["field"], b["value"], b["bloom"]))
    for n in v["normalised"]:
        want = "!" + n["problem"] if "problem" in n else (n["normalised"] or "")
        out.write("N\t%d\t%s\t%s\n" % (roles[n["role"]], n["raw"], want))
    c = v["comparisons"]
    json.dump(c["model"], open(os.path.join(out_dir, "vectors_model.json"), "w"))
    for i, p in enumerate(c["pairs"]):
        for side in ("left", "right"):
            with open(os.path.join(out_dir, "pair%d_%s.csv" % (i, side)), "w") as f:
                f.write(p["header"] + "\n" + p[side] + "\n")
        out.write("P\t%d\t%s\t%.17g\n" % (i, ",".join(p["levels"]), p["match_weight"]))
PY

# Every function the header exports is called by the C tests (smoke.c, api.c).
python3 - "$ffi_dir" <<'PY'
import re, sys, pathlib
ffi = pathlib.Path(sys.argv[1])
header = (ffi / "include" / "carematch.h").read_text()
exported = sorted(set(re.findall(r"^(?:carematch_status|void|const char \*)\s*(carematch_\w+)\(", header, re.M)))
tests = (ffi / "tests" / "smoke.c").read_text() + (ffi / "tests" / "api.c").read_text()
missing = [f for f in exported if not re.search(re.escape(f) + r"\(", tests)]
print("C ABI: %d functions exported, %d called by the C tests" % (len(exported), len(exported) - len(missing)))
if missing:
    sys.exit("not called by the C tests: " + ", ".join(missing))
PY

asan_env=(ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
          UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
programs=("$ffi_dir/tests/smoke.c" "$ffi_dir/tests/api.c" "$ffi_dir/examples/link_csv.c")
run_example=(examples/data/gp.csv examples/data/hospital.csv)

for src in "${programs[@]}"; do
    name="$(basename "$src" .c)"
    args=()
    [[ "$name" == link_csv ]] && args=("${run_example[@]}")
    echo "==> $name.c, static library, ASan + UBSan"
    gcc "${cflags[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer \
        "$src" "$lib_dir/libcarematch_ffi.a" "${native_libs[@]}" -lm -o "$out_dir/$name-asan"
    env "${asan_env[@]}" "$out_dir/$name-asan" "${args[@]}" > "$out_dir/$name-asan.out"
    tail -n 3 "$out_dir/$name-asan.out"
done

if [[ "${CAREMATCH_SKIP_VALGRIND:-0}" == "1" ]]; then
    echo "==> valgrind skipped (CAREMATCH_SKIP_VALGRIND=1)"
    exit 0
fi

for src in "${programs[@]}"; do
    name="$(basename "$src" .c)"
    args=()
    [[ "$name" == link_csv ]] && args=("${run_example[@]}")
    echo "==> $name.c, shared library, valgrind"
    gcc "${cflags[@]}" "$src" -L "$lib_dir" -lcarematch_ffi -lm -o "$out_dir/$name-shared"
    LD_LIBRARY_PATH="$lib_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
        "$out_dir/$name-shared" "${args[@]}" > "$out_dir/$name-valgrind.out"
    tail -n 3 "$out_dir/$name-valgrind.out"
done
