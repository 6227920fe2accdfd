#!/usr/bin/env bash
# Kafka's own replica and quorum admin tools against kwire-broker, which
# answers as a cluster of one node does: kafka-log-dirs (partition sizes that
# grow as records are produced), kafka-reassign-partitions (nothing in
# progress; a plan that keeps partitions where they are, log dir included, is
# carried out and verified; another log dir is refused), kafka-leader-election
# (every leader is the preferred one already), kafka-metadata-quorum (a
# one-voter quorum led by the broker), kafka-configs listing the groups with
# configs, and the AdminClient calls the tools do not make
# (java/AdminApis.java): reassignments to unknown brokers, cancellations, log
# dir moves, elections of single partitions, ListConfigResources; and
# kafka-topics --describe paging through DescribeTopicPartitions answers.
source "$(dirname "$0")/lib.sh"
start_broker

fail() { echo "FAIL: $*" >&2; exit 1; }
admin_apis() { java -cp "$(kafka_classpath)" "$ROOT/tests/interop/java/AdminApis.java" "$BOOTSTRAP" "$@" 2>/dev/null; }
expect() {  # expect <what> <wanted output> <actual output>
  [[ "$3" == "$2" ]] || fail "$1: wanted '$2', got '$3'"
  echo "ok: $1: $3"
}

kafka_cli kafka-topics --bootstrap-server "$BOOTSTRAP" --create --topic adm-t --partitions 2
node="$(kafka_cli kafka-metadata-quorum --bootstrap-server "$BOOTSTRAP" describe --status | awk '/^LeaderId:/ { print $2 }')"
[[ "$node" =~ ^[0-9]+$ ]] || fail "no leader id from kafka-metadata-quorum"

# --- kafka-log-dirs: one dir; sizes of the produced partitions grow --------
log_dirs() {  # prints "<log dir> <total bytes of adm-t> <partitions of adm-t>"
  kafka_cli kafka-log-dirs --bootstrap-server "$BOOTSTRAP" --describe --topic-list adm-t | grep '^{' | python3 -c '
import json, sys
out = json.load(sys.stdin)
brokers = out["brokers"]
assert len(brokers) == 1, brokers
dirs = brokers[0]["logDirs"]
assert len(dirs) == 1 and dirs[0]["error"] is None, dirs
parts = [p for p in dirs[0]["partitions"] if p["partition"].startswith("adm-t-")]
for p in parts:
    assert p["offsetLag"] == 0 and p["isFuture"] is False, p
print(dirs[0]["logDir"], sum(p["size"] for p in parts), len(parts))'
}
produce() {
  for i in $(seq 1 "$1"); do echo "record-$i-$(printf '%0100d' "$i")"; done |
    kafka_cli kafka-console-producer --bootstrap-server "$BOOTSTRAP" --topic adm-t
}
read -r dir size0 parts < <(log_dirs)
echo "log dir $dir, adm-t: $size0 bytes in $parts partitions"
[[ "$parts" == 2 ]] || fail "kafka-log-dirs shows $parts partitions of adm-t"
if [[ " ${KWIRE_BROKER_EXTRA:-} " == *" --kwire.storage=pulsar "* ]]; then
  [[ "$dir" == persistent://* ]] || fail "the log dir on Pulsar is '$dir', not a namespace"
else
  [[ "$dir" == "$(cd "$DATA_DIR" && pwd -P)" || "$dir" == "$(cd "$DATA_DIR" && pwd)" ]] || fail "log dir '$dir', data in $DATA_DIR"
fi
produce 50
read -r _ size1 _ < <(log_dirs)
(( size1 > size0 && size1 >= 50 * 100 )) || fail "adm-t holds $size1 bytes after 50 records (before: $size0)"
produce 50
read -r _ size2 _ < <(log_dirs)
(( size2 > size1 )) || fail "adm-t holds $size2 bytes after 50 more records (before: $size1)"
echo "ok: kafka-log-dirs: adm-t grew $size0 -> $size1 -> $size2 bytes"

# --- kafka-reassign-partitions ----------------------------------------------
out="$(kafka_cli kafka-reassign-partitions --bootstrap-server "$BOOTSTRAP" --list)"
grep -qx "No partition reassignments found." <<<"$out" || fail "--list: $out"
plan="$WORK/plan.json"
echo "{\"version\":1,\"partitions\":[{\"topic\":\"adm-t\",\"partition\":0,\"replicas\":[$node],\"log_dirs\":[\"$dir\"]}]}" >"$plan"
out="$(kafka_cli kafka-reassign-partitions --bootstrap-server "$BOOTSTRAP" --execute --reassignment-json-file "$plan" 2>&1)"
echo "$out"
grep -qF "\"log_dirs\":[\"$dir\"]" <<<"$out" || fail "--execute: no current assignment in $dir"
grep -qx "Successfully started partition reassignment for adm-t-0" <<<"$out" || fail "--execute: $out"
grep -qF "Successfully started moving log directory to $dir for replica adm-t-0 with broker $node" <<<"$out" ||
  fail "--execute: no log dir move"
out="$(kafka_cli kafka-reassign-partitions --bootstrap-server "$BOOTSTRAP" --verify --reassignment-json-file "$plan" 2>&1)"
echo "$out"
grep -qx "Reassignment of partition adm-t-0 is completed." <<<"$out" || fail "--verify: $out"
grep -qx "Reassignment of replica adm-t-0-$node completed successfully." <<<"$out" || fail "--verify: $out"
echo "{\"version\":1,\"partitions\":[{\"topic\":\"adm-t\",\"partition\":0,\"replicas\":[$node],\"log_dirs\":[\"/no/such/dir\"]}]}" >"$WORK/elsewhere.json"
if out="$(kafka_cli kafka-reassign-partitions --bootstrap-server "$BOOTSTRAP" --execute \
  --reassignment-json-file "$WORK/elsewhere.json" 2>&1)"; then fail "a move to another log dir succeeded: $out"; fi
grep -q "LogDirNotFoundException" <<<"$out" || fail "another log dir: $out"
echo "ok: kafka-reassign-partitions"

# --- kafka-leader-election ---------------------------------------------------
out="$(kafka_cli kafka-leader-election --bootstrap-server "$BOOTSTRAP" --election-type PREFERRED --all-topic-partitions 2>&1)"
[[ -z "$out" ]] || fail "--all-topic-partitions: '$out' (Kafka prints nothing: no election was needed)"
out="$(kafka_cli kafka-leader-election --bootstrap-server "$BOOTSTRAP" --election-type PREFERRED --topic adm-t --partition 1 2>&1)"
grep -qx "Valid replica already elected for partitions adm-t-1" <<<"$out" || fail "election of adm-t-1: $out"
if out="$(kafka_cli kafka-leader-election --bootstrap-server "$BOOTSTRAP" --election-type UNCLEAN --topic nope \
  --partition 0 2>&1)"; then fail "an election in an unknown topic succeeded: $out"; fi
grep -q "UnknownTopicOrPartitionException: No such topic as nope" <<<"$out" || fail "unknown topic: $out"
echo "ok: kafka-leader-election"

# --- kafka-metadata-quorum ---------------------------------------------------
out="$(kafka_cli kafka-metadata-quorum --bootstrap-server "$BOOTSTRAP" describe --status)"
echo "$out"
field() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ +/, ""); print }' <<<"$out"; }
expect "quorum leader epoch" 1 "$(field LeaderEpoch)"
expect "quorum high watermark" 0 "$(field HighWatermark)"
expect "quorum follower lag" 0 "$(field MaxFollowerLag)"
expect "quorum voters" "[{\"id\": $node, \"endpoints\": [\"PLAINTEXT://$BOOTSTRAP\"]}]" "$(field CurrentVoters)"
expect "quorum observers" "[]" "$(field CurrentObservers)"
out="$(kafka_cli kafka-metadata-quorum --bootstrap-server "$BOOTSTRAP" describe --replication)"
echo "$out"
expect "replication rows" "$node AAAAAAAAAAAAAAAAAAAAAA 0 0 Leader" \
  "$(awk 'NR > 1 { print $1, $2, $3, $4, $7 }' <<<"$out")"

# --- what the tools do not ask: AdminClient --------------------------------
expect "reassign to this node" OK "$(admin_apis reassign adm-t 0 "$node")"
expect "reassign to another broker" InvalidReplicaAssignmentException "$(admin_apis reassign adm-t 0 $((node + 1)))"
expect "cancel" NoReassignmentInProgressException "$(admin_apis reassign adm-t 0 cancel)"
expect "reassign unknown topic" UnknownTopicOrPartitionException "$(admin_apis reassign nope 0 "$node")"
expect "reassign unknown partition" UnknownTopicOrPartitionException "$(admin_apis reassign adm-t 9 "$node")"
expect "log dir of its own" OK "$(admin_apis alter-log-dir adm-t 1 "$node" "$dir")"
expect "another log dir" LogDirNotFoundException "$(admin_apis alter-log-dir adm-t 1 "$node" /no/such/dir)"
expect "log dir of unknown topic" UnknownTopicOrPartitionException "$(admin_apis alter-log-dir nope 0 "$node" "$dir")"
expect "preferred election" ElectionNotNeededException "$(admin_apis elect PREFERRED adm-t 0)"
expect "unclean election" ElectionNotNeededException "$(admin_apis elect UNCLEAN adm-t 1)"
expect "election of unknown partition" UnknownTopicOrPartitionException "$(admin_apis elect PREFERRED adm-t 7)"
expect "quorum" "leader $node epoch 1 hw 0|voter $node leo 0|node $node 1 endpoint(s)" "$(admin_apis quorum | paste -sd'|')"

# --- config resources --------------------------------------------------------
kafka_cli kafka-configs --bootstrap-server "$BOOTSTRAP" --alter --entity-type groups --entity-name adm-g \
  --add-config share.record.lock.duration.ms=20000
expect "config resources" "BROKER $node|GROUP adm-g|TOPIC adm-t" "$(admin_apis config-resources | paste -sd'|')"
expect "topic and broker config resources" "BROKER $node|TOPIC adm-t" \
  "$(admin_apis config-resources TOPIC BROKER | paste -sd'|')"
expect "client metrics resources" "" "$(admin_apis config-resources CLIENT_METRICS)"
out="$(kafka_cli kafka-configs --bootstrap-server "$BOOTSTRAP" --describe --entity-type groups)"
echo "$out"
grep -q "^Dynamic configs for group adm-g are:" <<<"$out" || fail "kafka-configs --describe --entity-type groups: $out"
grep -q "share.record.lock.duration.ms=20000" <<<"$out" || fail "kafka-configs: no lock duration: $out"

# --- kafka-topics --describe, paged (DescribeTopicPartitions) ----------------
kafka_cli kafka-topics --bootstrap-server "$BOOTSTRAP" --create --topic adm-wide --partitions 5
# Two partitions per answer: the tool follows the broker's cursor through
# three pages of adm-wide, and every partition appears once, in order.
out="$(kafka_cli kafka-topics --bootstrap-server "$BOOTSTRAP" --describe --partition-size-limit-per-response 2)"
echo "$out"
expect "paged partitions" "adm-t 0|adm-t 1|adm-wide 0|adm-wide 1|adm-wide 2|adm-wide 3|adm-wide 4" \
  "$(awk '$1 == "Topic:" && $3 == "Partition:" && $2 ~ /^adm-/ { print $2, $4 }' <<<"$out" | paste -sd'|')"
out="$(kafka_cli kafka-topics --bootstrap-server "$BOOTSTRAP" --describe --topic adm-wide --partition-size-limit-per-response 1)"
expect "one topic, one partition per answer" "0|1|2|3|4" \
  "$(awk '$1 == "Topic:" && $3 == "Partition:" { print $4 }' <<<"$out" | paste -sd'|')"
echo "OK admin-apis"
