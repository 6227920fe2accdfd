#!/usr/bin/env bash
# Runs the Kafka byte oracle end to end:
#   1. builds the Java side (kafka-clients from Maven Central, cached in ~/.m2)
#   2. Kafka's classes write random messages of every schema and version
#   3. kwire decodes and re-encodes each of them (bytes must be identical) and
#      writes random messages of its own for the same schema versions
#   4. Kafka's classes read kwire's messages and must write back the same bytes
#
# Usage: run_oracle.sh ORACLE_CHECK WORK_DIR [removed]
#   default: Kafka 4.4.0, every schema version it has
#   removed: Kafka 3.9.1, only the released versions that 4.4.0 no longer has
#            (kwire keeps them for older clients)
# KWIRE_ORACLE_SEED (default 1) and KWIRE_ORACLE_PER_VERSION (default 20) vary
# the samples; a failure names the seed of the failing sample.
set -euo pipefail
exe=$1 work=$2 mode=${3:-current}
here=$(cd "$(dirname "$0")" && pwd)
seed=${KWIRE_ORACLE_SEED:-1}
per_version=${KWIRE_ORACLE_PER_VERSION:-20}
java=java
if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then java="$JAVA_HOME/bin/java"; fi
mkdir -p "$work"

# Builds the oracle against one kafka-clients release; prints the jar's path.
# Offline first: after one successful build everything is in ~/.m2.
build() {
  local version=$1 dir="$work/maven-$1"
  local args=(-B -q -f "$here/pom.xml" -Dkafka.version="$version" -Doracle.build.dir="$dir" package)
  if ! mvn -o "${args[@]}" >"$work/maven-$version.log" 2>&1; then
    mvn "${args[@]}" >"$work/maven-$version.log" 2>&1 || { cat "$work/maven-$version.log" >&2; return 1; }
  fi
  echo "$dir/kwire-oracle.jar"
}

current=$(build 4.4.0)
select=()
oracle=$current
if [[ $mode == removed ]]; then
  "$java" -jar "$current" schemas >"$work/schemas-4.4.0.txt"
  oracle=$(build 3.9.1)
  select=(--except-versions-of "$work/schemas-4.4.0.txt" --stable-only)
elif [[ $mode != current ]]; then
  echo "unknown mode $mode" >&2
  exit 2
fi

echo "== Kafka writes its corpus ($mode versions, seed $seed, $per_version per version)"
"$java" -jar "$oracle" generate --seed "$seed" --per-version "$per_version" "${select[@]}" --out "$work/kafka.txt"
echo "== kwire checks Kafka's corpus and writes its own"
"$exe" "$work/kafka.txt" "$work/kwire.txt" --seed "$seed" --per-version "$per_version"
echo "== Kafka checks kwire's corpus"
"$java" -jar "$oracle" verify --require-all "${select[@]}" "$work/kwire.txt"
