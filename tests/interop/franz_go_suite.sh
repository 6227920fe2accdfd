#!/usr/bin/env bash
# franz-go's own integration tests (pkg/kgo, at the version tools/peers/go
# pins) against kwire-broker, run as a user of that library runs them:
# KGO_SEEDS names the broker, KGO_TEST_RF=1 fits a single node. The suite
# produces, consumes, rebalances classic and KIP-848 groups, runs
# transactional consume-transform-produce (TestTxnEtl) and share groups
# (TestShareGroupETL) with its own checks. Its tests decide from ApiVersions
# what the broker supports; the run fails if the broker-facing tests named
# below were skipped rather than passed.
source "$(dirname "$0")/lib.sh"
gomod="$("$ROOT/tools/peers/go-env.sh")"
(cd "$gomod" && go test -c -o "$WORK/kgo.test" github.com/twmb/franz-go/pkg/kgo) >/dev/null
# Some of its tests read the package's own sources: they run from there.
pkgdir="$(cd "$gomod" && go list -f '{{.Dir}}' github.com/twmb/franz-go/pkg/kgo)"
start_broker
log="$WORK/kgo.log"
rc=0
(cd "$pkgdir" && KGO_SEEDS="$BOOTSTRAP" KGO_TEST_RF=1 KGO_TEST_RECORDS=20000 KGO_LOG_LEVEL=none \
  "$WORK/kgo.test" -test.v -test.count 1 -test.timeout 240s >"$log" 2>&1) || rc=$?
if [[ $rc -ne 0 ]]; then
  echo "FAIL: franz-go's kgo tests (exit $rc); failed tests and their output:" >&2
  grep -E -A12 -- '^\s*--- FAIL|^panic|^FAIL' "$log" | head -200 >&2
  exit 1
fi
for t in TestGroupETL TestTxnEtl TestShareGroupETL TestShareGroupOffsetsAdmin Test848RegexBrokerResolves \
    TestConsumeRegex TestIssue434 TestClient_ProduceLargeMessages; do
  grep -q -- "^--- PASS: $t " "$log" || { echo "FAIL: $t did not pass (skipped?)" >&2; grep -E -- "--- (SKIP|PASS|FAIL): $t" -A3 "$log" >&2; exit 1; }
done
echo "franz-go kgo suite: $(grep -c -- '--- PASS' "$log") passed, $(grep -c -- '--- SKIP' "$log") skipped"
