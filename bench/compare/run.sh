#!/usr/bin/env bash
# kwire next to the best-known codecs of Java, Rust and Go on the same bytes.
#
#   bench/compare/run.sh [--quick] [--kwire-bin PATH]
#
# 1. Kafka 4.4.0's Java message classes write the workloads once
#    (build/bench-compare/data/ROW.bin and rows.tsv).
# 2. Every codec decodes each row and encodes its decoded value again; the
#    re-encoding is compared with the input, once, outside timing.
# 3. Each codec's own harness times decode and encode of every row: kwire with
#    Google Benchmark, Kafka's classes with JMH, kafka-protocol with criterion,
#    franz-go's kmsg with testing.B -benchmem.
# 4. report.py gathers everything into one Markdown table and a PNG chart:
#    bench/results/compare.{md,png} for a full run; a --quick run (one short
#    iteration each, for CI) writes them under build/bench-compare/ instead.
#
# Peers come from their registries (Maven Central, crates.io, the Go module
# proxy, PyPI for matplotlib); nothing of theirs is kept in the repository.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/build/bench-compare"
quick=0
kwire_bin=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) quick=1 ;;
    --kwire-bin) kwire_bin="$2"; shift ;;
    -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$out"
data="$out/data"
runs="$out/$([[ $quick == 1 ]] && echo quick || echo full)"
rm -rf "$runs"
mkdir -p "$runs"
step() { printf '\n== %s\n' "$*" >&2; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "load_before=$(load)" > "$runs/machine.txt"
# The kwire revision measured (taken before the build).
echo "revision=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD -- include 2>/dev/null || echo ' (include/ modified)')" >> "$runs/machine.txt"

# ---------------------------------------------------------------- Java --
step "Java: Kafka 4.4.0 classes and JMH (Maven Central)"
cp_file="$out/java-classpath.txt"
if [[ ! -s "$cp_file" || "$cp_file" -ot "$here/java/pom.xml" ]]; then
  mvn -B -q -o -f "$here/java/pom.xml" dependency:build-classpath -Dmdep.outputFile="$cp_file" >"$out/mvn.log" 2>&1 ||
    mvn -B -q -f "$here/java/pom.xml" dependency:build-classpath -Dmdep.outputFile="$cp_file" >"$out/mvn.log" 2>&1 ||
    { cat "$out/mvn.log" >&2; exit 1; }
fi
jcp="$(cat "$cp_file")"
rm -rf "$out/java-classes"
mkdir -p "$out/java-classes"
javac -nowarn -d "$out/java-classes" -cp "$jcp" "$here"/java/src/kwire/compare/*.java
jcp="$out/java-classes:$jcp"

step "workloads (written by Kafka's classes)"
rm -rf "$data"
java -cp "$jcp" kwire.compare.Workloads "$data"
cut -f1,2,3 "$data/rows.tsv" >&2

# --------------------------------------------------------------- kwire --
step "kwire: Google Benchmark harness"
if [[ -z "$kwire_bin" ]]; then
  [[ -f "$root/build/default/CMakeCache.txt" ]] || (cd "$root" && cmake --preset default >/dev/null)
  (cd "$root" && cmake --build --preset default --target kwire_compare -j2)
  kwire_bin="$root/build/default/bench/compare/kwire_compare"
fi

# ---------------------------------------------------------------- Rust --
step "Rust: kafka-protocol and criterion (crates.io)"
export CARGO_TARGET_DIR="$out/rust-target"
cargo build --release --quiet --manifest-path "$here/rust/Cargo.toml"
rust_bin="$CARGO_TARGET_DIR/release/kwire-compare-rust"

# ------------------------------------------------------------------ Go --
step "Go: franz-go kmsg (Go module proxy)"
go_test="$out/kmsg.test"
go_check="$out/kmsg-check"
(cd "$here/go" && GOFLAGS=-mod=mod go test -c -o "$go_test" . && GOFLAGS=-mod=mod go build -o "$go_check" .)

# ----------------------------------------------------------- round trip --
step "round trip: decode, encode again, compare with the input"
{
  "$kwire_bin" check "$data" || true
  java -cp "$jcp" kwire.compare.Check "$data"
  "$rust_bin" check "$data"
  "$go_check" check "$data"
} | tee "$runs/roundtrip.tsv" >&2

# ------------------------------------------------------------- timings --
if [[ $quick == 1 ]]; then
  gbench=(--benchmark_min_time=0.01)
  jmh=(-f 1 -wi 0 -i 1 -r 100ms)
  crit=(--quick)
  gob=(-test.benchtime=1x -test.count=1)
else
  gbench=(--benchmark_min_time=1 --benchmark_repetitions=5)
  jmh=(-f 1 -wi 3 -w 1s -i 5 -r 1s)
  crit=()
  gob=(-test.benchtime=1s -test.count=5)
fi
rows="$(cut -f1 "$data/rows.tsv" | paste -sd, -)"

step "timing kwire"
"$kwire_bin" bench "$data" "${gbench[@]}" --benchmark_format=json --benchmark_out="$runs/kwire.json" \
  --benchmark_out_format=json >/dev/null
step "timing Kafka's Java classes (JMH)"
java -cp "$jcp" org.openjdk.jmh.Main kwire.compare.JavaBench "${jmh[@]}" -p row="$rows" -prof gc \
  -jvmArgsAppend "-Dkwire.compare.data=$data" -rf json -rff "$runs/java.json" >"$runs/java.log" 2>&1 ||
  { tail -40 "$runs/java.log" >&2; exit 1; }
step "timing kafka-protocol (criterion)"
export CRITERION_HOME="$runs/criterion"
"$rust_bin" bench "$data" "$runs/rust-allocs.json" "${crit[@]}" >"$runs/rust.log" 2>&1 ||
  { tail -40 "$runs/rust.log" >&2; exit 1; }
step "timing franz-go kmsg (testing.B)"
(cd "$here/go" && KWIRE_COMPARE_DATA="$data" "$go_test" -test.run '^$' -test.bench . -test.benchmem "${gob[@]}") \
  >"$runs/go.txt" 2>&1 || { tail -40 "$runs/go.txt" >&2; exit 1; }

# -------------------------------------------------------------- report --
echo "load_after=$(load)" >> "$runs/machine.txt"
{
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "cores=$(nproc)"
  echo "memory=$(free -g | awk '/^Mem:/{print $2 " GiB"}')"
  echo "kernel=$(uname -sr)"
  echo "cxx=$(c++ --version | head -1)"
  echo "java=$(java -version 2>&1 | head -1)"
  echo "rust=$(rustc --version)"
  echo "go=$(go version | cut -d' ' -f3-)"
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
} >> "$runs/machine.txt"

step "report"
venv="$out/venv"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check matplotlib
fi
if [[ $quick == 1 ]]; then dest="$out/quick"; else dest="$root/bench/results"; fi
mkdir -p "$dest"
"$venv/bin/python" "$here/report.py" --runs "$runs" --data "$data" --quick "$quick" \
  --md "$dest/compare.md" --png "$dest/compare.png"
