#!/usr/bin/env bash
# Runs the Kafka byte oracle end to end:
#   1. builds the Java side (kafka-clients 4.4.0 from Maven Central, cached in ~/.m2)
#   2. Kafka's classes write random messages of every schema and version
#   3. kwire decodes and re-encodes each of them (bytes must be identical) and
#      writes random messages of its own for the same schema versions
#   4. Kafka's classes read kwire's messages and must write back the same bytes
# Usage: run_oracle.sh ORACLE_CHECK WORK_DIR
# KWIRE_ORACLE_SEED (default 1) and KWIRE_ORACLE_PER_VERSION (default 20) vary
# the samples; a failure names the seed of the failing sample.
set -euo pipefail
exe=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
seed=${KWIRE_ORACLE_SEED:-1}
per_version=${KWIRE_ORACLE_PER_VERSION:-20}
java=java
if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then java="$JAVA_HOME/bin/java"; fi
mkdir -p "$work"

# Offline first: after one successful build everything is in ~/.m2.
mvn_args=(-B -q -f "$here/pom.xml" -Doracle.build.dir="$work/maven" package)
if ! mvn -o "${mvn_args[@]}" >"$work/maven.log" 2>&1; then
  mvn "${mvn_args[@]}" >"$work/maven.log" 2>&1 || { cat "$work/maven.log" >&2; exit 1; }
fi
jar="$work/maven/kwire-oracle.jar"

echo "== Kafka writes its corpus (seed $seed, $per_version per version)"
"$java" -jar "$jar" generate --seed "$seed" --per-version "$per_version" --out "$work/kafka.txt"
echo "== kwire checks Kafka's corpus and writes its own"
"$exe" "$work/kafka.txt" "$work/kwire.txt" --seed "$seed" --per-version "$per_version"
echo "== Kafka checks kwire's corpus"
"$java" -jar "$jar" verify --require-all "$work/kwire.txt"
