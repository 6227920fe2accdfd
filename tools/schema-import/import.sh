#!/usr/bin/env bash
# Imports Kafka's message schemas into schemas/ from kafka-clients jars on Maven
# Central: the newest release, completed with the versions Kafka 4.0 removed,
# taken from the last 3.x release. Usage: tools/schema-import/import.sh [newest] [legacy]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
newest=${1:-4.4.0}
legacy=${2:-3.9.1}
jars=$root/build/schema-import
mkdir -p "$jars"
for v in "$newest" "$legacy"; do
  if [[ ! -f $jars/kafka-clients-$v.jar ]]; then
    mvn -B -q dependency:copy -Dartifact=org.apache.kafka:kafka-clients:$v -DoutputDirectory="$jars" >&2
  fi
done
# Kafka's error table, read from the newest release's own Errors enum.
slf4j=2.0.17
if [[ ! -f $jars/slf4j-api-$slf4j.jar ]]; then
  mvn -B -q dependency:copy -Dartifact=org.slf4j:slf4j-api:$slf4j -DoutputDirectory="$jars" >&2
fi
java -cp "$jars/kafka-clients-$newest.jar:$jars/slf4j-api-$slf4j.jar" "$here/ErrorTable.java" \
  >"$jars/error_codes-$newest.json" 2>/dev/null
errors=(--errors "$jars/error_codes-$newest.json")
python3 "$here/import_schemas.py" \
  --source "$jars/kafka-clients-$newest.jar" --source-release "$newest" \
  --legacy "$jars/kafka-clients-$legacy.jar" --legacy-release "$legacy" \
  "${errors[@]}" --out "$root/schemas"
