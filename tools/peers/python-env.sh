#!/usr/bin/env bash
# Creates (or brings up to date) a Python virtual environment with Kafka client
# libraries from PyPI and prints the path of its python:
#   confluent-kafka  (librdkafka, shipped inside the wheel)
#   kafka-python     (pure Python)
# The venv lives in $KWIRE_PEERS_DIR/python; pip's cache keeps the downloads.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

venv="$KWIRE_PEERS_DIR/python"
reqs="$KWIRE_PEERS_TOOLS/python/requirements.txt"
stamp="$venv/.kwire-requirements"

setup() {
  if [[ -x "$venv/bin/python" && -f "$stamp" ]] && cmp -s "$reqs" "$stamp"; then
    return 0
  fi
  if [[ ! -x "$venv/bin/python" ]]; then
    peers_log "creating the Python venv in $venv"
    python3 -m venv "$venv"
  fi
  peers_log "installing $(tr '\n' ' ' <"$reqs")"
  "$venv/bin/python" -m pip install -q -r "$reqs" >&2
  "$venv/bin/python" -c 'import confluent_kafka, kafka' \
    || peers_die "the Kafka client modules do not import"
  cp "$reqs" "$stamp"
}

peers_locked "$KWIRE_PEERS_DIR/python.lock" setup
echo "$venv/bin/python"
