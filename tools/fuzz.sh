#!/usr/bin/env bash
# Runs the libFuzzer targets (clang, ASan + UBSan; the `fuzz` preset) over their
# seed corpora, each for a bounded time with fresh random seeds.
#
#   tools/fuzz.sh [-t SECONDS] [-j JOBS] [--merge] [TARGET...]
#
#   -t SECONDS  per target (default: $FUZZ_SECONDS, else 20)
#   -j JOBS     parallel fuzzing processes per target (default 1)
#   --merge     afterwards, merge what the run found into the target's seed
#               corpus (tests/fuzz/corpus/<target>), keeping it minimal: only
#               inputs that add coverage are added
#   TARGET      names under tests/fuzz (default: every target)
#
# A long run, e.g. before a release or after a codec change:
#   tools/fuzz.sh -t 600 --merge
# A finding stops the run with the crashing input saved in the working
# directory (crash-*, leak-*, timeout-*): fix the bug, add the input to the
# target's seed corpus and a unit test for it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${FUZZ_SECONDS:-20}
jobs=1
merge=0
targets=()
while [[ $# -gt 0 ]]; do
  case $1 in
    -t) seconds=$2; shift 2 ;;
    -j) jobs=$2; shift 2 ;;
    --merge) merge=1; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done

cmake --preset fuzz -DCMAKE_CXX_FLAGS=-Werror >/dev/null
cmake --build --preset fuzz -j "${JOBS:-$(nproc)}"
if [[ ${#targets[@]} -eq 0 ]]; then
  for t in build/fuzz/tests/fuzz/*; do
    [[ -x $t && -f $t ]] && targets+=("$(basename "$t")")
  done
fi

for name in "${targets[@]}"; do
  target=build/fuzz/tests/fuzz/$name
  [[ -x $target ]] || { echo "no fuzz target $name" >&2; exit 1; }
  seeds=tests/fuzz/corpus/$name
  scratch=$(mktemp -d)
  echo "-- $name (${seconds}s)"
  args=("$scratch")
  [[ -d $seeds ]] && args+=("$seeds")
  fork=()
  [[ $jobs -gt 1 ]] && fork=(-fork="$jobs")
  "$target" "${args[@]}" "${fork[@]}" -max_total_time="$seconds" -print_final_stats=1 2>"$scratch.log" || {
    tail -40 "$scratch.log"
    echo "fuzz target $name failed" >&2
    exit 1
  }
  grep -E "^#[0-9]+ *DONE|stat::number_of_executed_units" "$scratch.log" | tail -2 || true
  if [[ $merge == 1 ]]; then
    mkdir -p "$seeds"
    before=$(ls "$seeds" | wc -l)
    "$target" -merge=1 "$seeds" "$scratch" 2>/dev/null
    echo "   corpus $seeds: $before -> $(ls "$seeds" | wc -l) inputs"
  fi
  rm -rf "$scratch" "$scratch.log"
done
