#!/usr/bin/env bash
# Builds the fuzz targets in fuzz/ with stable rustc and libFuzzer's coverage instrumentation,
# then runs each for a while over its committed corpus (fuzz/corpus/<target>/).
#
#   scripts/fuzz.sh [--seconds N | --runs N --seed S] [--merge] [--build-only] [TARGET...]
#
# --seconds N   run each target N seconds (default 60)
# --runs N      run each target for N inputs instead, mutated from the fixed random seed S:
#               a run that does not explore further on a faster machine, so that the gate in
#               `scripts/test` passes or fails alike everywhere (exploring is --seconds' job)
# --merge       afterwards add the inputs found that reach new code to fuzz/corpus/<target>/
#               (new edges only, so that the committed corpus stays small)
# --build-only  build, run nothing
# TARGET...     some targets only (default: all, see fuzz/Cargo.toml)
#
# New inputs go to <target dir>/fuzz/work/<target>/corpus, never to the committed corpus unless
# --merge; a crash, a failed invariant or a timeout is written to
# <target dir>/fuzz/work/<target>/artifacts/ and fails the run. The target dir is
# $CARGO_TARGET_DIR/fuzz (default target/fuzz), apart from the main build: the whole tree is
# built instrumented, with debug assertions and overflow checks. Needs a C++ compiler (g++ or
# clang++) for libFuzzer itself. fuzz/README.md has the details and how to run for hours.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=60
runs=""
seed=""
merge=false
build_only=false
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --merge) merge=true; shift ;;
        --build-only) build_only=true; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
if [ -n "$runs" ] && [ -z "$seed" ]; then
    echo "--runs needs --seed (a fixed seed makes the run the same everywhere)" >&2
    exit 2
fi
if [ -n "$runs" ]; then
    budget=(-runs="$runs" -seed="$seed")
    what="$runs inputs from seed $seed"
else
    budget=(-max_total_time="$seconds")
    what="${seconds}s"
fi
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(sed -n 's/^name = "\([a-z_]*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^comet-fuzz$')
fi

target_dir="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"
host="$(rustc -vV | sed -n 's/^host: //p')"
# What cargo-fuzz passes, less its nightly-only sanitizer flags: SanitizerCoverage with inline
# 8-bit counters, the PC table and comparison tracing (libFuzzer's feedback), `cfg(fuzzing)`,
# and the checks of a debug build in an optimized one.
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
-Cdebug-assertions -Coverflow-checks"
# Clippy lints the fuzz targets (the workspace's only member) in the same build.
if command -v clippy-driver >/dev/null; then
    RUSTC_WORKSPACE_WRAPPER="$(command -v clippy-driver)"
    export RUSTC_WORKSPACE_WRAPPER
fi

echo "==> building fuzz targets (${targets[*]}) in $target_dir"
bin_args=()
for t in "${targets[@]}"; do bin_args+=(--bin "$t"); done
# An explicit --target keeps RUSTFLAGS off build scripts and proc macros.
CARGO_TARGET_DIR="$target_dir" cargo build --manifest-path fuzz/Cargo.toml --release \
    --target "$host" "${bin_args[@]}"
$build_only && exit 0

failed=()
for t in "${targets[@]}"; do
    work="$target_dir/work/$t"
    # A run of fixed inputs starts from the committed corpus alone, in a directory of its
    # own, so that what earlier runs found does not change it.
    scratch="$work/corpus"
    if [ -n "$runs" ]; then
        scratch="$work/fixed-corpus"
        rm -rf "$scratch"
    fi
    mkdir -p "$scratch" "$work/artifacts" "fuzz/corpus/$t"
    echo "==> fuzzing $t for $what"
    # The first corpus directory receives new inputs; the committed one is only read.
    if ! "$target_dir/$host/release/$t" "$scratch" "fuzz/corpus/$t" \
        "${budget[@]}" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$work/artifacts/" -print_final_stats=1 >"$work/log" 2>&1; then
        tail -n 40 "$work/log"
        echo "!! $t failed; the input is in $work/artifacts/" >&2
        failed+=("$t")
        continue
    fi
    grep -E '^(stat::number_of_executed_units|stat::new_units_added)' "$work/log" |
        sed "s/^/   $t: /" || true
    if $merge; then
        # Only inputs reaching code the committed corpus does not (edges, not hit counts),
        # so that it stays small.
        "$target_dir/$host/release/$t" -set_cover_merge=1 -use_counters=0 -use_cmp=0 \
            "fuzz/corpus/$t" "$work/corpus" >"$work/merge.log" 2>&1
        echo "   $t: committed corpus now $(find "fuzz/corpus/$t" -type f | wc -l) inputs"
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing found failures in: ${failed[*]}" >&2
    exit 1
fi
echo "fuzzing: ${#targets[@]} targets ran $what each, no failure"
