#!/usr/bin/env bash
# Runs one of Apache Kafka 4.4.0's own command-line tools from the Maven jars.
#
#   tools/peers/kafka-cli.sh kafka-topics --bootstrap-server 127.0.0.1:9092 --list
#   tools/peers/kafka-cli.sh kafka-console-producer --bootstrap-server ... --topic t
#
# The tool names are those of Kafka's bin/*.sh scripts (with or without the
# "kafka-" prefix and ".sh" suffix). `kafka-cli.sh --list` prints them.
# KAFKA_HEAP_OPTS and KAFKA_OPTS are passed to the JVM as in Kafka's scripts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

declare -A mains=(
  [topics]=org.apache.kafka.tools.TopicCommand
  [console-producer]=org.apache.kafka.tools.ConsoleProducer
  [console-consumer]=org.apache.kafka.tools.consumer.ConsoleConsumer
  [console-share-consumer]=org.apache.kafka.tools.consumer.ConsoleShareConsumer
  [consumer-groups]=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand
  [share-groups]=org.apache.kafka.tools.consumer.group.ShareGroupCommand
  [streams-groups]=org.apache.kafka.tools.streams.StreamsGroupCommand
  [groups]=org.apache.kafka.tools.GroupsCommand
  [producer-perf-test]=org.apache.kafka.tools.ProducerPerformance
  [consumer-perf-test]=org.apache.kafka.tools.ConsumerPerformance
  [share-consumer-perf-test]=org.apache.kafka.tools.ShareConsumerPerformance
  [configs]=org.apache.kafka.tools.ConfigCommand
  [acls]=org.apache.kafka.tools.AclCommand
  [broker-api-versions]=org.apache.kafka.tools.BrokerApiVersionsCommand
  [get-offsets]=org.apache.kafka.tools.GetOffsetShell
  [delete-records]=org.apache.kafka.tools.DeleteRecordsCommand
  [leader-election]=org.apache.kafka.tools.LeaderElectionCommand
  [reassign-partitions]=org.apache.kafka.tools.reassign.ReassignPartitionsCommand
  [log-dirs]=org.apache.kafka.tools.LogDirsCommand
  [transactions]=org.apache.kafka.tools.TransactionsCommand
  [features]=org.apache.kafka.tools.FeatureCommand
  [metadata-quorum]=org.apache.kafka.tools.MetadataQuorumCommand
  [delegation-tokens]=org.apache.kafka.tools.DelegationTokenCommand
  [client-metrics]=org.apache.kafka.tools.ClientMetricsCommand
  [dump-log]=org.apache.kafka.tools.DumpLogSegments
  [storage]=kafka.tools.StorageTool
  [server-start]=kafka.Kafka
)

if [[ $# -lt 1 ]]; then
  echo "usage: $0 <tool> [args...]   ($0 --list shows the tools)" >&2
  exit 2
fi
if [[ "$1" == --list ]]; then
  for k in "${!mains[@]}"; do echo "kafka-$k ${mains[$k]}"; done | sort
  exit 0
fi

tool="${1%.sh}"; shift
tool="${tool#kafka-}"
main="${mains[$tool]:-}"
[[ -n "$main" ]] || peers_die "unknown Kafka tool '$tool' (see $0 --list)"

classpath="$("$KWIRE_PEERS_TOOLS/kafka-classpath.sh")"
log4j="${KWIRE_KAFKA_LOG4J:-$KWIRE_PEERS_TOOLS/kafka/log4j2-cli.properties}"
# shellcheck disable=SC2086  # the *_OPTS variables hold several words, as in Kafka's scripts
exec "$(peers_java)" ${KAFKA_HEAP_OPTS:--Xmx512m} -XX:+UseG1GC -Djava.awt.headless=true \
  -Dlog4j2.configurationFile="$log4j" ${KAFKA_OPTS:-} \
  -cp "$classpath" "$main" "$@"
