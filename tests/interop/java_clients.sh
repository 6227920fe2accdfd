#!/usr/bin/env bash
# Apache Kafka's Java client against kwire-broker: one scenario per run.
#   java_clients.sh admin|codecs|timestamps|group
source "$(dirname "$0")/lib.sh"
start_broker
run_java "$1"
