#!/usr/bin/env bash
# kwire_pulsar and Pulsar's Java client read each other's messages: key,
# value, event time, properties and broker entry index, single and batched.
set -euo pipefail
cli="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
url="${KWIRE_PULSAR_URL:-pulsar://127.0.0.1:6650}"
cp="$("$here/../../tools/pulsar/pulsar-standalone.sh" classpath)"
java_bin="${PULSAR_JAVA_HOME:+$PULSAR_JAVA_HOME/bin/}java"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
run_id="$(date +%s%N)"
peer() { "$java_bin" -cp "$cp" "$here/PulsarPeer.java" "$@" 2>"$tmp/java.err" | grep '^{' || { cat "$tmp/java.err" >&2; return 1; }; }

check() {  # file count prefix: every line i has key prefix-i, value-i, event time, property i
  python3 - "$@" <<'PY'
import json, sys
path, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = [json.loads(l) for l in open(path) if l.startswith('{')]
assert len(rows) == n, f"{path}: {len(rows)} messages, expected {n}"
for i, r in enumerate(rows):
    assert r["key"] == f"{prefix}-{i}", r
    assert r["value"] == f"value-{i}", r
    assert r["event_time"] == 1700000000000 + i, r
    assert r["properties"] == {"i": str(i)}, r
    assert r.get("index") == i, r
print(f"{path}: {n} messages ok")
PY
}

# C++ → Java, unbatched and batched.
"$cli" produce --url "$url" --topic "cpp-to-java-$run_id" -n 7 --prefix ck >/dev/null
"$cli" produce --url "$url" --topic "cpp-to-java-$run_id" -n 9 --batch 4 --prefix ck --event-time 1700000000007 >/dev/null
peer consume "$url" "cpp-to-java-$run_id" 16 java-sub >"$tmp/java.json"
python3 - "$tmp/java.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 16, len(rows)
for i, r in enumerate(rows):
    j = i if i < 7 else i - 7
    assert r["key"] == f"ck-{j}" and r["value"] == f"value-{j}", r
    assert r["event_time"] == 1700000000000 + i, r
    assert r["properties"] == {"i": str(j)}, r
    assert r["index"] == i, r
print("C++ -> Java: 16 messages ok")
PY

# Java → C++, batched and unbatched.
peer produce "$url" "java-to-cpp-b-$run_id" 25 true jb >/dev/null
"$cli" consume --url "$url" --topic "java-to-cpp-b-$run_id" -n 25 --earliest --sub cpp >"$tmp/cpp-b.json"
check "$tmp/cpp-b.json" 25 jb
peer produce "$url" "java-to-cpp-s-$run_id" 5 false js >/dev/null
"$cli" consume --url "$url" --topic "java-to-cpp-s-$run_id" -n 5 --reader >"$tmp/cpp-s.json"
check "$tmp/cpp-s.json" 5 js
echo "interop ok"
