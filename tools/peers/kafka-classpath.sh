#!/usr/bin/env bash
# Prints the runtime classpath of Apache Kafka 4.4.0 (clients, CLI tools and the
# KRaft server) resolved from Maven Central through tools/peers/kafka/pom.xml;
# `kafka-classpath.sh kafka-streams` prints Kafka Streams' instead
# (tools/peers/kafka-streams/pom.xml), `kafka-classpath.sh kafka-connect` a
# Kafka Connect worker's with the file connectors
# (tools/peers/kafka-connect/pom.xml).
# The jars stay in the local Maven repository; the classpath is cached in
# $KWIRE_PEERS_DIR/kafka/classpath.txt and recomputed when the pom changes or a
# jar has gone missing. Works offline once resolved.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

peer="${1:-kafka}"
case "$peer" in
  kafka|kafka-streams|kafka-connect) ;;
  *) peers_die "unknown Java peer: $peer (kafka, kafka-streams or kafka-connect)" ;;
esac
pom="$KWIRE_PEERS_TOOLS/$peer/pom.xml"
out_dir="$KWIRE_PEERS_DIR/$peer"
cp_file="$out_dir/classpath.txt"

cached_ok() {
  [[ -s "$cp_file" && "$cp_file" -nt "$pom" ]] || return 1
  local jar
  while IFS= read -r jar; do
    [[ -f "$jar" ]] || return 1
  done < <(tr ':' '\n' < "$cp_file")
}

resolve() {
  cached_ok && return 0
  mkdir -p "$out_dir"
  local tmp="$cp_file.tmp.$$" log="$out_dir/resolve.log"
  # Offline first (everything may already be in ~/.m2), then from the registry.
  if ! mvn -B -q -o -f "$pom" dependency:build-classpath -Dmdep.outputFile="$tmp" >"$log" 2>&1; then
    peers_log "resolving $peer jars from Maven Central"
    if ! mvn -B -q -f "$pom" dependency:build-classpath -Dmdep.outputFile="$tmp" >"$log" 2>&1; then
      cat "$log" >&2
      rm -f "$tmp"
      peers_die "could not resolve Kafka's classpath"
    fi
  fi
  mv "$tmp" "$cp_file"
}

peers_locked "$out_dir.lock" resolve
cat "$cp_file"
echo
