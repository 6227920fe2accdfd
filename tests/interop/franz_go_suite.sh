#!/usr/bin/env bash
# franz-go's own integration tests (pkg/kgo, at the version tools/peers/go
# pins) against kwire-broker, run as a user of that library runs them:
# KGO_SEEDS names the broker, KGO_TEST_RF=1 fits a single node. The suite
# produces, consumes, rebalances classic and KIP-848 groups, runs
# transactional consume-transform-produce (TestTxnEtl) and share groups
# (TestShareGroupETL) with its own checks. Its tests decide from ApiVersions
# what the broker supports; the run fails if the broker-facing tests named
# below were skipped rather than passed.
#
# On Pulsar two tests ask for what the Pulsar store documents it does not do
# (src/storage/README.md) and are skipped there: a 5 MiB record
# (TestIssueFetchLargerThanBrokerMaxReadBytes: above what a bookie takes, it
# is refused with MESSAGE_TOO_LARGE) and a share group's start offset set in
# the middle of a Pulsar entry (TestShareGroupOffsetsAdmin: a subscription
# moves to whole entries).
source "$(dirname "$0")/lib.sh"
skip='^$'
must_pass=(TestGroupETL TestTxnEtl TestShareGroupETL TestShareGroupOffsetsAdmin Test848RegexBrokerResolves
  TestConsumeRegex TestIssue434 TestClient_ProduceLargeMessages TestIssueFetchLargerThanBrokerMaxReadBytes)
if [[ " ${KWIRE_BROKER_EXTRA:-} " == *" --kwire.storage=pulsar "* ]]; then
  skip='^(TestIssueFetchLargerThanBrokerMaxReadBytes|TestShareGroupOffsetsAdmin)$'
  must_pass=(TestGroupETL TestTxnEtl TestShareGroupETL Test848RegexBrokerResolves TestConsumeRegex TestIssue434
    TestClient_ProduceLargeMessages)
fi
gomod="$("$ROOT/tools/peers/go-env.sh")"
(cd "$gomod" && go test -c -o "$WORK/kgo.test" github.com/twmb/franz-go/pkg/kgo) >/dev/null
# Some of its tests read the package's own sources: they run from there.
pkgdir="$(cd "$gomod" && go list -f '{{.Dir}}' github.com/twmb/franz-go/pkg/kgo)"
start_broker
log="$WORK/kgo.log"
rc=0
(cd "$pkgdir" && KGO_SEEDS="$BOOTSTRAP" KGO_TEST_RF=1 KGO_TEST_RECORDS=20000 KGO_LOG_LEVEL=none \
  "$WORK/kgo.test" -test.v -test.count 1 -test.timeout 240s -test.skip "$skip" >"$log" 2>&1) || rc=$?
if [[ $rc -ne 0 ]]; then
  echo "FAIL: franz-go's kgo tests (exit $rc); failed tests and their output:" >&2
  grep -E -B12 -A2 -- '^\s*--- FAIL|^panic|^FAIL' "$log" | head -300 >&2
  exit 1
fi
for t in "${must_pass[@]}"; do
  grep -q -- "^--- PASS: $t " "$log" || { echo "FAIL: $t did not pass (skipped?)" >&2; grep -E -- "--- (SKIP|PASS|FAIL): $t" -A3 "$log" >&2; exit 1; }
done
echo "franz-go kgo suite: $(grep -c -- '--- PASS' "$log") passed, $(grep -c -- '--- SKIP' "$log") skipped"
