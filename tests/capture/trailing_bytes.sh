#!/usr/bin/env bash
# kwire-decode on bytes after a request body, as librdkafka sends them: a
# Metadata v13 request for all topics whose 4-byte array-count placeholder was
# left in place (a compact null and three zeros) before AllowAutoTopicCreation
# (1), IncludeTopicAuthorizedOperations (0) and the empty tagged fields. Kafka
# reads the zeros as the two booleans and the tagged fields and ignores the
# rest. kwire-decode must fail the frame by default and, with
# --allow-trailing-bytes, show the same body, the three bytes, and a round
# trip of the frame without them.
#   trailing_bytes.sh <kwire-decode>
set -uo pipefail
decode=$1
frame='00000019 0003 000d 0000000c 0007 72646b61666b61 00  00 000000 010000'
fail() { echo "trailing_bytes: $*" >&2; exit 1; }

out=$(printf '%s\n' "$frame" | "$decode" --hex -); rc=$?
[[ $rc == 1 ]] || fail "strict: exit $rc, expected 1: $out"
grep -q '"error":"body: trailing bytes after message at byte 4"' <<<"$out" || fail "strict: no error in $out"

out=$(printf '%s\n' "$frame" | "$decode" --hex --roundtrip --allow-trailing-bytes -); rc=$?
[[ $rc == 0 ]] || fail "lenient: exit $rc, expected 0: $out"
python3 - "$out" <<'PY' || exit 1
import json, sys
j = json.loads(sys.argv[1])
want = {"apiKey": 3, "apiVersion": 13, "correlationId": 12, "clientId": "rdkafka", "trailingBytes": "010000",
        "roundtrip": True,
        "body": {"Topics": None, "AllowAutoTopicCreation": False, "IncludeTopicAuthorizedOperations": False}}
bad = {k: j.get(k) for k, v in want.items() if j.get(k) != v}
if bad or "error" in j:
    sys.exit(f"trailing_bytes: lenient: got {bad}, error {j.get('error')}")
PY
echo "trailing_bytes: ok"
