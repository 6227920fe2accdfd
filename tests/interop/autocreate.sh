#!/usr/bin/env bash
# auto.create.topics.enable and num.partitions, through the Java client.
#   autocreate.sh true|false
source "$(dirname "$0")/lib.sh"
start_broker --auto.create.topics.enable="$1" --num.partitions=3
run_java autocreate "$1"
