#!/usr/bin/env bash
# Builds the carematch C ABI and runs the C tests against it:
#   1. tests/smoke.c linked statically, under AddressSanitizer + UndefinedBehaviorSanitizer
#      (with LeakSanitizer), and
#   2. tests/smoke.c linked against the shared library, under valgrind (memcheck).
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

cflags=(-std=c11 -Wall -Wextra -Werror -pedantic -g -I "$ffi_dir/include")
# What a Rust staticlib needs from the system (see `cargo rustc -- --print native-static-libs`).
native_libs=(-lgcc_s -lutil -lrt -lpthread -lm -ldl)

echo "==> smoke.c, static library, ASan + UBSan"
gcc "${cflags[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer \
    "$ffi_dir/tests/smoke.c" "$lib_dir/libcarematch_ffi.a" "${native_libs[@]}" \
    -o "$out_dir/smoke-asan"
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    "$out_dir/smoke-asan"

if [[ "${CAREMATCH_SKIP_VALGRIND:-0}" == "1" ]]; then
    echo "==> valgrind skipped (CAREMATCH_SKIP_VALGRIND=1)"
    exit 0
fi

echo "==> smoke.c, shared library, valgrind"
gcc "${cflags[@]}" "$ffi_dir/tests/smoke.c" -L "$lib_dir" -lcarematch_ffi \
    -o "$out_dir/smoke-shared"
LD_LIBRARY_PATH="$lib_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
    "$out_dir/smoke-shared"
